"""A component that uses numpy imported at module level only."""

import numpy as np
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["zeros"])
def make_zeros(n: int = 3):
    size = n + 1
    return np.zeros(size)


@PipelineDecorator.pipeline(name="module import", project="tests")
def module_import():
    return make_zeros()


if __name__ == "__main__":
    module_import()
