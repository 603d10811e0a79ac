"""`skip_children_on_fail=False`: children of a failed step run and receive None."""

from pipec import PipelineController


def fails():
    from pipec.testing.observe import body

    body("fails")
    raise RuntimeError("planned failure")


def child(value):
    from pipec.testing.observe import body

    body("child", repr(value))
    return f"child got {value!r}"


def grandchild(value):
    from pipec.testing.observe import body

    body("grandchild", value)
    return value.upper()


if __name__ == "__main__":
    pipe = PipelineController(
        name="conformance-continue-children", project="conformance", version="1"
    )
    pipe.add_function_step(
        name="fails",
        function=fails,
        function_return=["value"],
        continue_behaviour={"continue_on_fail": True, "skip_children_on_fail": False},
    )
    pipe.add_function_step(
        name="child",
        function=child,
        function_kwargs=dict(value="${fails.value}"),
        function_return=["value"],
    )
    pipe.add_function_step(
        name="grandchild",
        function=grandchild,
        function_kwargs=dict(value="${child.value}"),
        function_return=["value"],
    )
    pipe.start()
