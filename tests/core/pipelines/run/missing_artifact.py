"""Steps that ask for an artifact their parent never uploaded (`nope`)."""

from pipec import PipelineController


def producer():
    from pipec import Task

    Task.current_task().upload_artifact("data", artifact_object=[1, 2, 3])
    return 1


def by_url(url):
    return url


def by_task(task_id):
    from pipec import Task

    return Task.get_task(task_id=task_id).artifacts["nope"].get()  # expected-error


if __name__ == "__main__":
    pipe = PipelineController(name="missing artifact", project="pipec tests", version="1.0.0")
    pipe.add_function_step(name="producer", function=producer, function_return=["one"])
    pipe.add_function_step(  # nope, cached
        name="by_url",
        function=by_url,
        function_kwargs=dict(url="${producer.artifacts.nope.url}"),
        function_return=["url"],
        cache_executed_step=True,
    )
    pipe.add_function_step(  # nope, uncached
        name="by_url_uncached",
        function=by_url,
        function_kwargs=dict(url="${producer.artifacts.nope.url}"),
        function_return=["url"],
    )
    pipe.add_function_step(
        name="by_task",
        function=by_task,
        function_kwargs=dict(task_id="${producer.id}"),
        function_return=["data"],
    )
    pipe.start()
