"""Picks an argument by a step's value used as a list index: cannot be a static graph."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["best"])
def pick_best():
    return 1


@PipelineDecorator.component(return_values=["model"])
def train(kind: str):
    return kind


@PipelineDecorator.pipeline(name="index", project="tests")
def index():
    kinds = ["tree", "linear", "knn"]
    best = pick_best()
    chosen = kinds[best]  # decision
    model = train(chosen)
    return model


if __name__ == "__main__":
    index()
