"""Typed pipeline parameters: the step returns what it got, with each value's type."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["got"])
def describe(flag, count, ratio, names, options, label):
    values = [flag, count, ratio, names, options, label]
    return [[type(value).__name__, value] for value in values]


@PipelineDecorator.pipeline(name="typed", project="pipec tests", version="1.0.0")
def pipeline(
    flag: bool = True,
    count: int = 1,
    ratio: float = 0.5,
    names: list = ["a"],
    options: dict = {"k": 1},
    label: str = "x",
):
    return describe(flag, count, ratio, names, options, label)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
