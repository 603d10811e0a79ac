"""Steps with ClearML's environment options, as real pipelines set them for their agents."""

from pipec import PipelineController


def prepare(n=3):
    import numpy

    return int(numpy.arange(n).sum())


def train(total=0):
    return total + 1


pipe = PipelineController(name="environment", project="pipec tests", version="1")
pipe.add_function_step(  # expected-error
    name="prepare", function=prepare, function_return=["total"], docker="python:3.11-slim"
)
pipe.add_function_step(
    name="train",
    function=train,
    function_kwargs={"total": "${prepare.total}"},
    function_return=["model"],
    repo="https://example.invalid/team/models.git",
    packages=["scikit-learn>=1.3"],
)
