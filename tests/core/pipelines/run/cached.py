"""Cache keys: step code, helpers and input contents decide; layout and comments do not.

Tests run edited copies of this file (see test_runtime.py), so the lines they
edit must stay as they are.
"""

from pipec import PipelineDecorator


def scale(x):
    return x * 10


@PipelineDecorator.component(return_values=["data"], cache=True, helper_functions=[scale])
def load(n: int):
    return [scale(i) for i in range(n)]


@PipelineDecorator.component(return_values=["total"], cache=True)
def total(data):
    # add them up
    return sum(data)


@PipelineDecorator.pipeline(name="cached", project="pipec tests", version="1.0.0")
def pipeline(n: int = 3):
    return total(load(n))


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
