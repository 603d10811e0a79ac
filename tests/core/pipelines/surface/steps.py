"""The Task and Logger surface inside the steps of a PipelineController pipeline.

`report` reports scalars, images, media and plots, tags itself, sets a parameter,
registers a model and flushes; `finish` marks its task completed half-way; `refuse`
marks its task failed; `configure` is a task script whose configuration, name and tags
the pipeline overrides; `inspect` finds the other steps' tasks by project and name.
"""

from pipec import PipelineController


def report(rows):
    import io
    import os
    import tempfile

    import numpy as np
    from pipec import Logger, Task

    task = Task.current_task()
    logger = task.get_logger()
    before = Task.get_task(task_id=task.id).get_reported_scalars()
    for i in range(3):
        logger.report_scalar("loss", "train", value=1.0 / (i + 1), iteration=i)
    logger.report_scalar("loss", "validation", value=0.75, iteration=0)
    task.flush()
    flushed = Task.get_task(task_id=task.id).get_reported_scalars()

    scratch = tempfile.mkdtemp()
    picture = os.path.join(scratch, "picture.png")
    with open(picture, "wb") as handle:
        handle.write(b"\x89PNG not really")
    logger.report_image(
        "samples", "file", iteration=0, local_path=picture, delete_after_upload=True
    )
    logger.report_image("samples", "array", iteration=0, image=np.zeros((4, 4, 3), dtype=np.uint8))
    for i in range(4):
        logger.report_image(
            "history",
            "kept",
            iteration=i,
            image=np.full((2, 2), i, dtype=np.uint8),
            max_image_history=2,
        )
    logger.report_image("samples", "link", iteration=0, url="https://example.com/sample.png")
    logger.report_media(
        "media", "clip", iteration=1, stream=io.BytesIO(b"RIFF0000WAVE"), file_extension="wav"
    )
    logger.report_histogram(
        "histogram",
        "counts",
        values=[[1, 2, 3], [3, 2, 1]],
        labels=["a", "b"],
        xaxis="bin",
        yaxis="count",
    )
    logger.report_vector("vector", "v", values=np.array([4, 5]), iteration=2)
    logger.report_scatter2d("scatter", "points", scatter=np.array([[0, 1], [1, 3]]), mode="markers")
    logger.report_line_plot(
        "lines",
        [
            Logger.SeriesInfo(name="up", data=[[0, 0], [1, 1]]),
            {"name": "down", "data": [[0, 1], [1, 0]]},
        ],
        xaxis="x",
        yaxis="y",
    )
    logger.report_confusion_matrix(
        "confusion",
        "m",
        matrix=np.array([[5, 1], [0, 4]]),
        xlabels=["cat", "dog"],
        ylabels=["cat", "dog"],
    )
    logger.report_matrix("matrix", "m", matrix=[[1, 2], [3, 4]])
    logger.report_surface("surface", "s", matrix=[[0, 1], [1, 2]], zaxis="height")
    logger.report_plotly(
        "plotly",
        "figure",
        figure={"data": [{"type": "bar", "y": [1, 2]}], "layout": {"title": "mine"}},
    )
    try:
        from matplotlib.figure import Figure
    except ImportError:
        pass
    else:
        figure = Figure()
        figure.add_subplot().plot([0, 1, 2], [2, 1, 0], label="falling")
        logger.report_matplotlib_figure("matplotlib", "figure", figure=figure, iteration=3)

    task.add_tags(["reported", "surface"])
    task.add_tags("split at spaces")
    task.set_parameter("Args/lr", "0.25", description="learning rate", value_type=float)
    model = os.path.join(scratch, "weights.bin")
    with open(model, "wb") as handle:
        handle.write(b"weights")
    task.update_output_model(model, name="weights")
    return {
        "before": before,
        "flushed": flushed,
        "scalars": task.get_reported_scalars(),
        "averaged": task.get_reported_scalars(max_samples=2),
        "parameters": task.get_parameters(),
        "typed": task.get_parameters(cast=True),
        "nested": task.get_parameters_as_dict(),
        "rows": task.get_parameter("kwargs/rows"),
        "missing": task.get_parameter("Args/missing", default="fallback"),
        "status": task.get_status(),
        "names": [task.id, task.name, task.project, Task.get_task(task_id=task.id).project],
        "picture_left": os.path.exists(picture),
        "logger_flushed": logger.flush(),
        "models": [m.name for m in task.models["output"]],
    }


def finish(seen):
    from pipec import Task

    task = Task.current_task()
    task.set_parameters({"General/first": 1}, [("General/second", "two")], third=[3])
    task.upload_artifact("before", artifact_object="uploaded before mark_completed")
    task.mark_completed(status_message="done early")
    task.upload_artifact("after", artifact_object="uploaded after mark_completed")
    return "never returned"


def refuse():
    from pipec import Task

    task = Task.init(tags=["refusing"])
    task.mark_failed(status_reason="bad data", status_message="fewer than 10 rows")
    return "never returned"


def inspect(seen):
    from pipec import Task

    found = Task.get_task(project_name="surface tests", task_name="report")
    by_tags = Task.get_task(project_name="surface tests", task_name="report", tags=["reported"])
    excluded = Task.get_task(project_name="surface tests", task_name="report", tags=["-reported"])
    template = Task.get_task(project_name="surface tests", task_name="surface configure")
    renamed = Task.get_task(project_name="surface tests", task_name="configure")
    models = found.models
    return {
        "found": [found.id, found.name, found.get_status(), found.get_tags()],
        "scalars": found.get_reported_scalars(),
        "parameters": found.get_parameters(),
        "by_tags": by_tags.id,
        "excluded": excluded,
        "template": [template.id, template.name, template.get_status()],
        "renamed": [renamed.name, renamed.get_tags(), renamed.get_status()],
        "models": [
            models.output[-1].name,
            models.output["weights"].url == models["output"][0].url,
            list(models.input),
        ],
        "artifacts": sorted(found.artifacts),
    }


if __name__ == "__main__":
    pipe = PipelineController(name="task surface steps", project="surface tests", version="1.0")
    pipe.add_parameter("rows", default=3)
    pipe.add_function_step(
        name="report",
        function=report,
        function_kwargs=dict(rows="${pipeline.rows}"),
        function_return=["seen"],
    )
    pipe.add_function_step(
        name="finish",
        function=finish,
        function_kwargs=dict(seen="${report.seen}"),
        function_return=["result"],
    )
    pipe.add_function_step(
        name="refuse", function=refuse, function_return=["result"], continue_on_fail=True
    )
    pipe.add_step(
        name="configure",
        base_task_project="surface tests",
        base_task_name="surface configure",
        configuration_overrides={
            "General": {"epochs": 7, "lr": 0.5},
            "file settings": '{"layers": 4}',
        },
        task_overrides={"name": "configure for ${pipeline.rows} rows", "tags": ["from-pipeline"]},
    )
    pipe.add_function_step(
        name="inspect",
        function=inspect,
        function_kwargs=dict(seen="${report.seen}"),
        function_return=["found"],
        parents=["configure", "finish"],
    )
    pipe.start()
