"""Parameters keep their types: text given on the command line reaches the step as the
parameter's annotated type (bool, int, float)."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["kinds"])
def describe(flag, count, ratio):
    from pipec.testing.observe import body

    kinds = [type(flag).__name__, type(count).__name__, type(ratio).__name__]
    body("describe", kinds[0], flag, kinds[1], count, kinds[2], ratio)
    return kinds


@PipelineDecorator.pipeline(name="conformance-typed-params", project="conformance", version="1")
def main(flag: bool = True, count: int = 1, ratio: float = 0.5):
    return describe(flag, count, ratio)


if __name__ == "__main__":
    main()
