"""A decorator pipeline's return value: arithmetic and containers over step outputs."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["a", "b"])
def split(x):
    from pipec.testing.observe import body

    body("split", x)
    return x, x + 1


@PipelineDecorator.component(return_values=["value"])
def scale(value, factor):
    from pipec.testing.observe import body

    body("scale", value, factor)
    return value * factor


@PipelineDecorator.pipeline(name="conformance-return-value", project="conformance", version="1")
def main(x: int = 3):
    a, b = split(x)
    scaled = scale(a, 10)
    return {"total": scaled * 2 + b, "parts": [a, b]}


if __name__ == "__main__":
    main()
