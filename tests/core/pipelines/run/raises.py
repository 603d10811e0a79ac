"""A step that raises: its sibling still completes, its child is skipped."""

from pipec import PipelineController


def prepare(rows):
    return list(range(rows))


def boom(data):
    raise ValueError(f"bad row {len(data)}")  # expected-error


def side(rows):
    return rows * 2


def after(value):
    return value


if __name__ == "__main__":
    pipe = PipelineController(name="raises", project="pipec tests", version="1.0.0")
    pipe.add_parameter("rows", default=3)
    pipe.add_function_step(
        name="prepare",
        function=prepare,
        function_kwargs=dict(rows="${pipeline.rows}"),
        function_return=["data"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="boom",
        function=boom,
        function_kwargs=dict(data="${prepare.data}"),
        function_return=["value"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="side",
        function=side,
        function_kwargs=dict(rows="${pipeline.rows}"),
        function_return=["doubled"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="after",
        function=after,
        function_kwargs=dict(value="${boom.value}"),
        function_return=["value"],
        cache_executed_step=True,
    )
    pipe.start()
