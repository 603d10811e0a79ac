"""A reference to a return value that step_one does not declare."""

from pipec import PipelineController


def step_one(rows=10):
    return list(range(rows))


def step_two(data_frame):
    return len(data_frame)


if __name__ == "__main__":
    pipe = PipelineController(name="unknown output", project="pipec tests", version="1.0.0")
    pipe.add_function_step(
        name="step_one",
        function=step_one,
        function_return=["data_frame"],
    )
    pipe.add_function_step(  # expected-error
        name="step_two",
        function=step_two,
        function_kwargs=dict(data_frame="${step_one.no_such_output}"),
        function_return=["size"],
    )
    pipe.start()
