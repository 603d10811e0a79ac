"""Cached decorator components: a rerun reuses them; a changed input re-runs what depends on it."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["value"], cache=True)
def load(x):
    from pipec.testing.observe import body

    body("load", x)
    return x + 1


@PipelineDecorator.component(return_values=["value"], cache=True)
def square(value):
    from pipec.testing.observe import body

    body("square", value)
    return value * value


@PipelineDecorator.component(return_values=["value"], cache=True)
def offset(k):
    from pipec.testing.observe import body

    body("offset", k)
    return k * 100


@PipelineDecorator.component(return_values=["total"], cache=True)
def combine(a, b):
    from pipec.testing.observe import body

    body("combine", a, b)
    return a + b


@PipelineDecorator.pipeline(name="conformance-cache-decorator", project="conformance", version="1")
def main(x: int = 2, k: int = 3):
    squared = square(load(x))
    return combine(squared, offset(k))


if __name__ == "__main__":
    main()
