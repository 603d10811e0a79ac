"""Pipeline logic that decides from a step's value which step runs: a static engine cannot."""

from pipec.automation.controller import PipelineDecorator


@PipelineDecorator.component(return_values=["x"])
def one():
    return 1


@PipelineDecorator.component(return_values=["y"])
def two(x):
    return x + 1


@PipelineDecorator.pipeline(name="dynamic", project="tests", version="1")
def main():
    x = one()
    if x > 0:
        two(x)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    main()
