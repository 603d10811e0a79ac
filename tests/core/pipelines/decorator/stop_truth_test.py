"""Chooses the next step from a step's value: cannot be a static graph."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["accuracy"])
def evaluate():
    return 0.95


@PipelineDecorator.component(return_values=["model"])
def retrain(epochs: int = 10):
    return epochs


@PipelineDecorator.pipeline(name="truth test", project="tests")
def truth_test():
    acc = evaluate()
    if acc > 0.9:  # decision
        retrain(epochs=20)
    return acc


if __name__ == "__main__":
    truth_test()
