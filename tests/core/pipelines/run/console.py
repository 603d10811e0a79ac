"""Its second step prints a marker and raises: what `pipec runs logs`, `runs show` and
`runs resume` are for (the third step is its child)."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["data"])
def first():
    print("first step says hello")
    return 1


@PipelineDecorator.component(return_values=["out"])
def second(data):
    import sys

    print("MARKER-second-step")
    print("a warning on stderr", file=sys.stderr)
    raise ValueError("second is broken")  # expected-error


@PipelineDecorator.component(return_values=["x"])
def third(out):
    print("third ran with", out)
    return out * 10


@PipelineDecorator.pipeline(name="console", project="pipec tests")
def console_pipeline(n: int = 1):
    data = first()
    return third(second(data))


if __name__ == "__main__":
    console_pipeline()
