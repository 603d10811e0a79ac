"""Controller references: `${pipeline.NAME}`, `${step.OUTPUT}`, `${step.parameters.kwargs/NAME}`,
`${step.id}` (read back with `Task.get_task`), `${step.artifacts.NAME.url}`, and templates."""

from pipec import PipelineController


def produce(n, label):
    from pipec import Task
    from pipec.testing.observe import body

    body("produce", n, label)
    Task.current_task().upload_artifact("table", {"n": n})
    return n * 2


def consume(doubled, n_again, producer_id, table_url, tag):
    from pipec import StorageManager, Task
    from pipec.testing.observe import body

    table = Task.get_task(task_id=producer_id).artifacts["table"].get()
    fetched = StorageManager.get_local_copy(remote_url=table_url)
    body("consume", doubled, n_again, table["n"], tag)
    return {
        "doubled": doubled,
        "n_again": n_again,
        "table": table,
        "url_readable": bool(fetched),
        "tag": tag,
    }


if __name__ == "__main__":
    pipe = PipelineController(
        name="conformance-controller-refs", project="conformance", version="1"
    )
    pipe.add_parameter(name="n", default=4)
    pipe.add_parameter(name="label", default="run")
    pipe.add_function_step(
        name="produce",
        function=produce,
        function_kwargs=dict(n="${pipeline.n}", label="${pipeline.label}"),
        function_return=["value"],
    )
    pipe.add_function_step(
        name="consume",
        function=consume,
        function_kwargs=dict(
            doubled="${produce.value}",
            n_again="${produce.parameters.kwargs/n}",
            producer_id="${produce.id}",
            table_url="${produce.artifacts.table.url}",
            tag="${pipeline.label}-${pipeline.n}",
        ),
        function_return=["value"],
    )
    pipe.start()
