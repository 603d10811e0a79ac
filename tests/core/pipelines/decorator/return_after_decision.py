"""The return value is chosen by a decision on a step's value, after the last step."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["accuracy"])
def evaluate():
    return 0.5


@PipelineDecorator.pipeline(name="verdict", project="tests")
def verdict():
    acc = evaluate()
    return "good" if acc > 0.9 else "bad"


if __name__ == "__main__":
    verdict()
