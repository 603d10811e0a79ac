"""A failing step without continue_on_fail: the run fails, its child is skipped, and
(abort_on_failure=False, the default) the unrelated branch still runs; what the failing
step printed, and its traceback, are kept as its console."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["value"])
def bad():
    import sys

    from pipec.testing.observe import body

    body("bad")
    print("bad prints before it fails")
    print("bad warns on stderr", file=sys.stderr)
    raise ValueError("planned failure")


@PipelineDecorator.component(return_values=["value"])
def after_bad(value):
    from pipec.testing.observe import body

    body("after_bad", value)
    return value


@PipelineDecorator.component(return_values=["value"])
def other():
    from pipec.testing.observe import body

    body("other")
    return 1


@PipelineDecorator.component(return_values=["value"])
def after_other(value):
    from pipec.testing.observe import body

    body("after_other", value)
    return value + 1


@PipelineDecorator.pipeline(name="conformance-failure-branch", project="conformance", version="1")
def main():
    after_bad(bad())
    after_other(other())


if __name__ == "__main__":
    main()
