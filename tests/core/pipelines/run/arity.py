"""Steps whose return value does not match `function_return` (found only at run time)."""

from pipec import PipelineController


def three(n):
    return tuple(range(n))  # three values for two names


def scalar(n):
    return n  # one value for two names


if __name__ == "__main__":
    pipe = PipelineController(name="arity", project="pipec tests", version="1.0.0")
    pipe.add_parameter("n", default=3)
    pipe.add_function_step(
        name="three",
        function=three,
        function_kwargs=dict(n="${pipeline.n}"),
        function_return=["first", "second"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="scalar",
        function=scalar,
        function_kwargs=dict(n="${pipeline.n}"),
        function_return=["first", "second"],
    )
    pipe.start()
