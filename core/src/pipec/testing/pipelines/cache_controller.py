"""Cached function steps (`cache_executed_step=True`) fed by a pipeline parameter."""

from pipec import PipelineController


def make(n):
    from pipec.testing.observe import body

    body("make", n)
    return n * 2


def double(value):
    from pipec.testing.observe import body

    body("double", value)
    return value * 2


def constant(c):
    from pipec.testing.observe import body

    body("constant", c)
    return c


if __name__ == "__main__":
    pipe = PipelineController(
        name="conformance-cache-controller", project="conformance", version="1"
    )
    pipe.add_parameter(name="n", default=5)
    pipe.add_function_step(
        name="make",
        function=make,
        function_kwargs=dict(n="${pipeline.n}"),
        function_return=["value"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="double",
        function=double,
        function_kwargs=dict(value="${make.value}"),
        function_return=["value"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="constant",
        function=constant,
        function_kwargs=dict(c=7),
        function_return=["value"],
        cache_executed_step=True,
    )
    pipe.start()
