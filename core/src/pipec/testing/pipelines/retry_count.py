"""`retry_on_failure=N`: a step is attempted up to N+1 times."""

from pipec import PipelineController


def flaky():
    from pipec.testing.observe import attempt, body

    n = attempt("flaky")
    body("flaky", n)
    if n < 3:
        raise RuntimeError(f"planned failure {n}")
    return n


def exhausted():
    from pipec.testing.observe import attempt, body

    n = attempt("exhausted")
    body("exhausted", n)
    raise RuntimeError(f"planned failure {n}")


if __name__ == "__main__":
    pipe = PipelineController(name="conformance-retry-count", project="conformance", version="1")
    pipe.add_function_step(
        name="flaky", function=flaky, function_return=["value"], retry_on_failure=2
    )
    pipe.add_function_step(
        name="exhausted",
        function=exhausted,
        function_return=["value"],
        retry_on_failure=1,
        continue_on_fail=True,
    )
    pipe.start()
