"""`abort_on_failure=True`: a failed step stops the run; nothing starts after it.

`slow` does not depend on `bad`: a target that runs independent steps at the same
time has it running when `bad` fails and must abort it; a target that runs steps
one at a time has not started it and must skip it. It never finishes either way.
"""

from pipec import PipelineController


def bad():
    from pipec.testing.observe import body

    body("bad")
    raise RuntimeError("planned failure")


def after_bad(value):
    from pipec.testing.observe import body

    body("after_bad", value)
    return value


def slow():
    import time

    from pipec.testing.observe import body

    time.sleep(30)
    body("slow", "finished")
    return 1


def after_slow(value):
    from pipec.testing.observe import body

    body("after_slow", value)
    return value


if __name__ == "__main__":
    pipe = PipelineController(
        name="conformance-abort-on-failure",
        project="conformance",
        version="1",
        abort_on_failure=True,
    )
    pipe.add_function_step(name="bad", function=bad, function_return=["value"])
    pipe.add_function_step(
        name="after_bad",
        function=after_bad,
        function_kwargs=dict(value="${bad.value}"),
        function_return=["value"],
    )
    pipe.add_function_step(name="slow", function=slow, function_return=["value"])
    pipe.add_function_step(
        name="after_slow",
        function=after_slow,
        function_kwargs=dict(value="${slow.value}"),
        function_return=["value"],
    )
    pipe.start()
