"""A step whose process is SIGKILLed halfway through storing its results.

By then it has uploaded an artifact and stored its first return value; the
second one dies halfway through serialisation. A sibling step completes
meanwhile. Once the file named by `flag` exists, the step succeeds instead.
"""

from pipec import PipelineController


def prepare(rows):
    return list(range(rows))


def crash(data, flag):
    import os
    import signal

    from pipec import Task

    if os.path.exists(flag):
        return sum(data), data

    class Bomb:
        """Kills its process when pickled."""

        def __reduce__(self):
            os.kill(os.getpid(), signal.SIGKILL)

    # an artifact and the first return value are stored; the second return value is
    # pickled after 8 MB of its own data, so the kill lands halfway through writing it
    Task.current_task().upload_artifact("marker", artifact_object={"ok": True})
    return sum(data), [b"x" * (8 << 20), Bomb()]


def side(rows):
    return rows + 1


def after(total, rest):
    return total + len(rest)


if __name__ == "__main__":
    pipe = PipelineController(name="crash", project="pipec tests", version="1.0.0")
    pipe.add_parameter("rows", default=4)
    pipe.add_parameter("flag", default="")
    pipe.add_function_step(
        name="prepare",
        function=prepare,
        function_kwargs=dict(rows="${pipeline.rows}"),
        function_return=["data"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="side",
        function=side,
        function_kwargs=dict(rows="${pipeline.rows}"),
        function_return=["value"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="crash",
        function=crash,
        function_kwargs=dict(data="${prepare.data}", flag="${pipeline.flag}"),
        function_return=["total", "rest"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="after",
        function=after,
        function_kwargs=dict(total="${crash.total}", rest="${crash.rest}"),
        function_return=["value"],
        cache_executed_step=True,
    )
    pipe.start()
