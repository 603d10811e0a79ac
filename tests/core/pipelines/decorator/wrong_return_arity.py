"""Declares two return values but returns three."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["train, test"])
def split(data: list):
    half = len(data) // 2
    if not data:
        return [], []
    return data[:half], data[half:], half


@PipelineDecorator.pipeline(name="wrong arity", project="tests")
def wrong_arity(data: list = [1, 2, 3, 4]):
    train, _ = split(data)
    return train


if __name__ == "__main__":
    wrong_arity()
