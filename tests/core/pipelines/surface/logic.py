"""The pipeline's own task in decorator logic: `Task.current_task()` reports, uploads,
tags and connects a configuration on the run record, while a component reports on its
step's."""

from pipec import Logger, PipelineDecorator, Task


@PipelineDecorator.component(return_values=["total"], cache=False)
def add(a, b):
    from pipec import Logger

    Logger.current_logger().report_scalar("sum", "total", value=a + b, iteration=0)
    return a + b


@PipelineDecorator.pipeline(name="task surface logic", project="surface tests", version="1.0")
def pipeline(a: int = 1, b: int = 2):
    task = Task.current_task()
    total = add(a, b)
    task.get_logger().report_scalar("logic", "total", value=int(total), iteration=1)
    Logger.current_logger().report_histogram("logic", "bars", values=[int(total), a, b])
    task.upload_artifact("summary", artifact_object={"total": int(total)})
    task.add_tags(["logic", "decorator"])
    settings = task.connect_configuration({"threshold": 0.5}, name="logic settings")
    try:
        task.mark_failed(status_reason="not here")
        refused = "mark_failed worked"
    except Exception as exc:
        refused = f"{type(exc).__name__}: {exc}"
    return {
        "names": [task.id, task.name, task.project, task.task_type],
        "same": [Task.init() is task, Task.current_task() is task],
        "parameters": task.get_parameters(),
        "status": task.get_status(),
        "scalars": task.get_reported_scalars(),
        "artifacts": sorted(task.artifacts),
        "settings": settings,
        "refused": refused,
    }


if __name__ == "__main__":
    pipeline()
