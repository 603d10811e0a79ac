"""A cached step that notes each run of its body in a file outside the store (`ledger`),
for concurrent runs of the same parameters."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["value"], cache=True)
def work(ledger: str, n: int):
    import os
    import time

    with open(ledger, "a") as out:
        out.write(f"{os.getpid()}\n")
    time.sleep(float(os.environ.get("SAME_WORK_SECONDS", "3")))
    return n * 7


@PipelineDecorator.component(return_values=["total"])
def report(value):
    return value + 1


@PipelineDecorator.pipeline(name="same work", project="pipec tests", version="1.0.0")
def pipeline(ledger: str = "ledger.txt", n: int = 6):
    return report(work(ledger, n))


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
