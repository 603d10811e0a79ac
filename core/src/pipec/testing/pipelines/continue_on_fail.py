"""`continue_on_fail=True`: the run completes; the failed step's descendants are skipped."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["value"], continue_on_fail=True)
def fails():
    from pipec.testing.observe import body

    body("fails")
    raise RuntimeError("planned failure")


@PipelineDecorator.component(return_values=["value"])
def child(value):
    from pipec.testing.observe import body

    body("child", value)
    return value


@PipelineDecorator.component(return_values=["value"])
def grandchild(value):
    from pipec.testing.observe import body

    body("grandchild", value)
    return value


@PipelineDecorator.component(return_values=["value"])
def independent():
    from pipec.testing.observe import body

    body("independent")
    return "ok"


@PipelineDecorator.pipeline(name="conformance-continue-on-fail", project="conformance", version="1")
def main():
    grandchild(child(fails()))
    independent()


if __name__ == "__main__":
    main()
