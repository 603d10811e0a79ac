"""Steps on an explicit queue, on the pipeline's default queue, and on an unlisted queue."""

from pipec import PipelineController


def step(value=1):
    return value


if __name__ == "__main__":
    pipe = PipelineController(name="queues", project="tests", version="1")
    pipe.set_default_execution_queue("cpu")
    pipe.add_function_step(name="prepare", function=step, function_return=["out"])
    pipe.add_function_step(name="train", function=step, parents=["prepare"], execution_queue="gpu")
    pipe.add_function_step(
        name="report", function=step, parents=["train"], execution_queue="services"
    )
    pipe.start()
