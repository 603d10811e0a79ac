"""A last step called "end", as many pipelines name it."""

from pipec import PipelineController


def start(value=1):
    return value


def end(value):
    return value


if __name__ == "__main__":
    pipe = PipelineController(name="start to end", project="pipec tests", version="1.0.0")
    pipe.add_function_step(name="start", function=start, function_return=["value"])
    pipe.add_function_step(name="end", function=end, function_kwargs=dict(value="${start.value}"))
    pipe.start()
