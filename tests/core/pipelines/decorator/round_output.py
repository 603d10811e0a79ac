"""Rounds a step output before passing it on."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["accuracy"])
def evaluate():
    return 0.91234


@PipelineDecorator.component(return_values=["text"])
def publish(value):
    return str(value)


@PipelineDecorator.pipeline(name="round", project="tests")
def round_pipeline():
    accuracy = evaluate()
    return publish(round(accuracy, 2))


if __name__ == "__main__":
    round_pipeline()
