"""Helpers shipped with a step through helper_functions=[...]."""

from pipec import PipelineDecorator


def normalise(values):
    total = sum(values)
    return [v / total for v in values]


def largest(values, k=1):
    return sorted(values, reverse=True)[:k]


def unused(values):
    return values


@PipelineDecorator.component(return_values=["best"], helper_functions=[normalise, largest])
def rank(values: list):
    return largest(normalise(values), k=2)


@PipelineDecorator.pipeline(name="helpers", project="tests")
def helpers(values: list = [1, 2, 3]):
    return rank(values)


if __name__ == "__main__":
    helpers()
