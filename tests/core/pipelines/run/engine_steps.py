"""Callbacks that look at the run through `pipeline`, and retries by count and by callable."""

from pipec import PipelineController


def seen(pipeline, node):
    from pipec.testing.observe import note

    note("post", node.name, pipeline.id, ",".join(sorted(pipeline.get_processed_nodes())))


def retry_once(pipeline, node, retries):
    from pipec.testing.observe import note

    note("retry", node.name, retries, ",".join(sorted(pipeline.get_pipeline_dag())))
    return retries < 1


def first():
    return 1


def flaky(value):
    from pipec.testing.observe import attempt

    n = attempt("flaky")
    if n < 2:
        raise RuntimeError(f"planned failure {n}")
    return value + n


def counted(value):
    from pipec.testing.observe import attempt

    n = attempt("counted")
    if n < 2:
        raise RuntimeError(f"planned failure {n}")
    return value + n


if __name__ == "__main__":
    pipe = PipelineController(name="engine-steps", project="pipec tests", version="1")
    pipe.add_function_step(
        name="first", function=first, function_return=["value"], post_execute_callback=seen
    )
    pipe.add_function_step(
        name="flaky",
        function=flaky,
        function_kwargs=dict(value="${first.value}"),
        function_return=["value"],
        retry_on_failure=retry_once,
        post_execute_callback=seen,
    )
    pipe.add_function_step(
        name="counted",
        function=counted,
        function_kwargs=dict(value="${first.value}"),
        function_return=["value"],
        retry_on_failure=1,
    )
    pipe.start()
