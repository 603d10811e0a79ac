"""Two branches from one source, a retried step, a tolerated failure with a skipped
child, a queue, a time limit and a monitored metric: each maps onto a Prefect feature."""

from pipec import PipelineController


def source(n, scale):
    return n * scale


def left(scratch, value):
    # fails on its first attempt only: attempts leave a file each in `scratch`
    import os

    os.makedirs(scratch, exist_ok=True)
    tried = len(os.listdir(scratch))
    open(os.path.join(scratch, f"attempt-{tried + 1}"), "w").close()
    if tried == 0:
        raise RuntimeError("first attempt fails")
    return value + 1


def right(value):
    return value - 1


def broken(value):
    raise ValueError(f"broken with {value}")


def after_broken():
    return "never"


def join(a, b, label):
    from pipec import Task

    total = a + b
    Task.current_task().get_logger().report_scalar(
        title="result", series="total", value=total, iteration=0
    )
    return f"{label}={total}"


if __name__ == "__main__":
    pipe = PipelineController(name="fan", project="tests", version="1")
    pipe.add_parameter(name="n", default=3)
    pipe.add_parameter(name="scale", default=2.0)
    pipe.add_parameter(name="label", default="total")
    pipe.add_parameter(name="scratch", default="scratch")
    pipe.add_function_step(
        name="source",
        function=source,
        function_kwargs=dict(n="${pipeline.n}", scale="${pipeline.scale}"),
        function_return=["value"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="left",
        function=left,
        function_kwargs=dict(scratch="${pipeline.scratch}", value="${source.value}"),
        function_return=["value"],
        retry_on_failure=2,
    )
    pipe.add_function_step(
        name="right",
        function=right,
        function_kwargs=dict(value="${source.value}"),
        function_return=["value"],
        execution_queue="gpu",
    )
    pipe.add_function_step(
        name="broken",
        function=broken,
        function_kwargs=dict(value="${source.value}"),
        function_return=["value"],
        continue_on_fail=True,
    )
    pipe.add_function_step(
        name="after_broken", function=after_broken, parents=["broken"], function_return=["x"]
    )
    pipe.add_function_step(
        name="join",
        function=join,
        function_kwargs=dict(a="${left.value}", b="${right.value}", label="${pipeline.label}"),
        function_return=["text"],
        time_limit=120,
        monitor_metrics=[("result", "total")],
    )
    pipe.start_locally(run_pipeline_steps_locally=True)
