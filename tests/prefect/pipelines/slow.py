"""A quick step, then one that waits for a file that never comes (until a cancel ends
it), then its child: a flow run to cancel while a step runs, and to resume after."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["data"])
def quick(n: int):
    print("quick says hello", flush=True)
    return n + 1


@PipelineDecorator.component(return_values=["out"])
def slow(data: int, gate: str):
    import os
    import sys
    import time

    print(f"slow started with {data}")
    print("slow warns on stderr", file=sys.stderr, flush=True)
    while gate and not os.path.exists(gate):
        time.sleep(0.1)
    return data * 10


@PipelineDecorator.component(return_values=["x"])
def after(out: int):
    return out + 1


@PipelineDecorator.pipeline(name="slow", project="pipec tests")
def slow_pipeline(n: int = 1, gate: str = ""):
    result = after(slow(quick(n), gate))
    print(f"accuracy: {result}%")
    return result


if __name__ == "__main__":
    slow_pipeline()
