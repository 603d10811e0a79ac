"""A decorator pipeline whose training step reports what a ClearML user would: scalars
per iteration, a text, a table, an image, a histogram, an artifact and an output model
that `monitor_models` forwards (so it is registered). `fail=True` fails the step after
it has reported, so its evaluation is never reached."""

from pipec import PipelineDecorator


@PipelineDecorator.component(
    return_values=["weights"],
    monitor_metrics=[("loss", "train")],
    monitor_models=[("weights", "reporting-weights")],
)
def train(epochs: int, fail: bool):
    import os
    import tempfile

    import numpy as np
    from pipec import Task

    task = Task.current_task()
    logger = task.get_logger()
    for i in range(epochs):
        logger.report_scalar("loss", "train", value=1.0 / (i + 1), iteration=i)
    logger.report_text("trained")
    logger.report_table(
        "results", "per epoch", iteration=0, table_plot=[["epoch", "loss"], [0, 1.0]]
    )
    logger.report_image("samples", "first", iteration=0, image=np.zeros((4, 4, 3), dtype=np.uint8))
    logger.report_histogram("losses", "counts", values=[3, 2, 1], iteration=0)
    task.upload_artifact("summary", artifact_object={"epochs": epochs})
    path = os.path.join(tempfile.mkdtemp(), "weights.bin")
    with open(path, "wb") as handle:
        handle.write(b"weights")
    task.update_output_model(path, name="weights")
    if fail:
        raise RuntimeError("training failed on purpose")
    return path


@PipelineDecorator.component(return_values=["accuracy"])
def evaluate(weights):
    return 0.75


@PipelineDecorator.pipeline(name="reporting", project="mlflow tests", version="2.0")
def reporting(epochs: int = 3, fail: bool = False):
    weights = train(epochs, fail)
    return evaluate(weights)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    reporting()
