"""A cached step feeding an uncached one: what the store-trust tests tamper with.

`produce` appends a line to `marker` each time its body runs, so a test can tell a
cache hit from a recomputation.
"""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["numbers"], cache=True)
def produce(n: int, marker: str):
    if marker:
        with open(marker, "a") as handle:
            handle.write("produce\n")
    return {"n": list(range(n))}


@PipelineDecorator.component(return_values=["total"], cache=False)
def total(numbers):
    return sum(numbers["n"])


@PipelineDecorator.pipeline(name="trust", project="pipec tests", version="1.0.0")
def pipeline(n: int = 4, marker: str = ""):
    return total(produce(n, marker))


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
