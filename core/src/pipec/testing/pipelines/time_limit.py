"""`time_limit`: a step running longer is aborted; its child is skipped, the rest runs."""

from pipec import PipelineController


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


def independent():
    from pipec.testing.observe import body

    body("independent")
    return 2


if __name__ == "__main__":
    pipe = PipelineController(name="conformance-time-limit", project="conformance", version="1")
    pipe.add_function_step(name="slow", function=slow, function_return=["value"], time_limit=2)
    pipe.add_function_step(
        name="after_slow",
        function=after_slow,
        function_kwargs=dict(value="${slow.value}"),
        function_return=["value"],
    )
    pipe.add_function_step(name="independent", function=independent, function_return=["value"])
    pipe.start()
