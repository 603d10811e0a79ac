"""A self-contained component that happens to be called `top`."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["best"])
def top(values: list, k: int = 1):
    ordered = sorted(values, reverse=True)
    return ordered[:k]


@PipelineDecorator.pipeline(name="named top", project="tests")
def named_top(values: list = [3, 1, 2]):
    return top(values, k=2)


if __name__ == "__main__":
    named_top()
