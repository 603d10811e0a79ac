"""`retry_on_failure` as a callable (pipeline, node, retries) -> bool: here, one retry."""

from pipec import PipelineDecorator


def retry_once(pipeline, node, retries):
    from pipec.testing.observe import note

    note("retry", node.name, retries)
    return retries < 1


@PipelineDecorator.component(return_values=["value"], retry_on_failure=retry_once)
def once_flaky():
    from pipec.testing.observe import attempt, body

    n = attempt("once_flaky")
    body("once_flaky", n)
    if n < 2:
        raise RuntimeError(f"planned failure {n}")
    return n


@PipelineDecorator.component(
    return_values=["value"], retry_on_failure=retry_once, continue_on_fail=True
)
def twice_flaky(value):
    from pipec.testing.observe import attempt, body

    n = attempt("twice_flaky")
    body("twice_flaky", n)
    if n < 3:
        raise RuntimeError(f"planned failure {n}")
    return value + n


@PipelineDecorator.pipeline(name="conformance-retry-callable", project="conformance", version="1")
def main():
    twice_flaky(once_flaky())


if __name__ == "__main__":
    main()
