"""Parameters keep their types: `add_parameter(param_type=...)` with a type or a type's
name, and text from the command line reaches the step through `${pipeline.NAME}` as
that type."""

from pipec import PipelineController


def describe(flag, count, ratio):
    from pipec.testing.observe import body

    kinds = [type(flag).__name__, type(count).__name__, type(ratio).__name__]
    body("describe", kinds[0], flag, kinds[1], count, kinds[2], ratio)
    return kinds


if __name__ == "__main__":
    pipe = PipelineController(
        name="conformance-typed-params-controller", project="conformance", version="1"
    )
    pipe.add_parameter(name="flag", default=True, param_type=bool)
    pipe.add_parameter(name="count", default=1, param_type=int)
    pipe.add_parameter(name="ratio", default=0.5, param_type="float")
    pipe.add_function_step(
        name="describe",
        function=describe,
        function_kwargs=dict(
            flag="${pipeline.flag}", count="${pipeline.count}", ratio="${pipeline.ratio}"
        ),
        function_return=["kinds"],
    )
    pipe.start()
