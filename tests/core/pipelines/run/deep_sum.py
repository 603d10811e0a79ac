"""Logic that sums 150 step outputs: one deep chain of additions in the IR."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["value"])
def step(i: int):
    return i


@PipelineDecorator.pipeline(name="deep sum", project="pipec tests", version="1.0.0")
def pipeline(n: int = 150):
    total = 0
    for i in range(150):
        total = total + step(i)
    return total


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
