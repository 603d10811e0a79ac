"""A step that needs a retry, and a cached step whose metric the pipeline monitors."""

from pipec import PipelineController


def flaky(counter):
    import os

    calls = int(open(counter).read()) if os.path.exists(counter) else 0
    with open(counter, "w") as handle:
        handle.write(str(calls + 1))
    if calls == 0:
        raise RuntimeError("the first call ever fails")
    return "ok"


def score(state):
    from pipec import Task

    Task.current_task().get_logger().report_scalar("score", "accuracy", value=0.875, iteration=0)
    return 0.875


if __name__ == "__main__":
    pipe = PipelineController(name="monitored", project="pipec tests", version="1.0.0")
    pipe.add_parameter("counter", default="")
    pipe.add_function_step(
        name="flaky",
        function=flaky,
        function_kwargs=dict(counter="${pipeline.counter}"),
        function_return=["state"],
        retry_on_failure=2,
    )
    pipe.add_function_step(
        name="score",
        function=score,
        function_kwargs=dict(state="${flaky.state}"),
        function_return=["accuracy"],
        cache_executed_step=True,
        monitor_metrics=[("score", "accuracy")],
    )
    pipe.start()
