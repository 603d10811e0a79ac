"""Retries, a tolerated failure, a skipped child, queues and a time limit, on any target."""

from pipec import PipelineController


def make(n):
    return n * 2


def flaky(scratch, value):
    # fails on its first attempt only: attempts leave a file each in `scratch`
    import os

    os.makedirs(scratch, exist_ok=True)
    tried = len(os.listdir(scratch))
    open(os.path.join(scratch, f"attempt-{tried + 1}"), "w").close()
    if tried == 0:
        raise RuntimeError("first attempt fails")
    return value + 1


def broken(value):
    raise ValueError(f"broken with {value}")


def after_broken():
    return "never"


def join(value):
    return value * 10


if __name__ == "__main__":
    pipe = PipelineController(name="outcomes", project="tests", version="1")
    pipe.add_parameter(name="n", default=3)
    pipe.add_parameter(name="scratch", default="scratch")
    pipe.add_function_step(
        name="make",
        function=make,
        function_kwargs=dict(n="${pipeline.n}"),
        function_return=["doubled"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="flaky",
        function=flaky,
        function_kwargs=dict(scratch="${pipeline.scratch}", value="${make.doubled}"),
        function_return=["result"],
        retry_on_failure=2,
    )
    pipe.add_function_step(
        name="broken",
        function=broken,
        function_kwargs=dict(value="${make.doubled}"),
        function_return=["result"],
        continue_on_fail=True,
    )
    pipe.add_function_step(
        name="after_broken",
        function=after_broken,
        parents=["broken"],
        function_return=["result"],
    )
    pipe.add_function_step(
        name="join",
        function=join,
        function_kwargs=dict(value="${flaky.result}"),
        function_return=["result"],
        execution_queue="fast",
        time_limit=60,
    )
    pipe.start_locally(run_pipeline_steps_locally=True)
