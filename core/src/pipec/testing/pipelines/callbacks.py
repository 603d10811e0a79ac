"""Step callbacks: their order over a chain, and `pre_execute_callback` returning False."""

from pipec import PipelineController


def on_pre(pipeline, node, parameters):
    from pipec.testing.observe import note

    note("pre", node.name)
    return True


def gate_closed(pipeline, node, parameters):
    from pipec.testing.observe import note

    note("pre", node.name, "closed")
    return False


def on_post(pipeline, node):
    from pipec.testing.observe import note

    note("post", node.name, node.status)


def on_status(pipeline, node, previous_status):
    from pipec.testing.observe import note

    note("status", node.name, previous_status, "->", node.status)


def first():
    from pipec.testing.observe import body

    body("first")
    return 1


def second(value):
    from pipec.testing.observe import body

    body("second", value)
    return value + 1


def gated(value):
    from pipec.testing.observe import body

    body("gated", value)
    return value


def after_gated(value):
    from pipec.testing.observe import body

    body("after_gated", value)
    return value


if __name__ == "__main__":
    pipe = PipelineController(name="conformance-callbacks", project="conformance", version="1")
    callbacks = dict(
        post_execute_callback=on_post,
        status_change_callback=on_status,
    )
    pipe.add_function_step(
        name="first",
        function=first,
        function_return=["value"],
        pre_execute_callback=on_pre,
        **callbacks,
    )
    pipe.add_function_step(
        name="second",
        function=second,
        function_kwargs=dict(value="${first.value}"),
        function_return=["value"],
        pre_execute_callback=on_pre,
        **callbacks,
    )
    pipe.add_function_step(
        name="gated",
        function=gated,
        function_kwargs=dict(value="${second.value}"),
        function_return=["value"],
        pre_execute_callback=gate_closed,
        **callbacks,
    )
    pipe.add_function_step(
        name="after_gated",
        function=after_gated,
        function_kwargs=dict(value="${gated.value}"),
        function_return=["value"],
        pre_execute_callback=on_pre,
        **callbacks,
    )
    pipe.start()
