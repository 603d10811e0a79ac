"""A step that ends its process with sys.exit(3) instead of returning."""

import sys

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["value"])
def quits(code: int):
    if code:
        sys.exit(code)  # expected-error
    return code


@PipelineDecorator.pipeline(name="exits", project="pipec tests", version="1.0.0")
def pipeline(code: int = 3):
    return quits(code)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
