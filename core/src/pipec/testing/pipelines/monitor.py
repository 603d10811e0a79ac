"""`monitor_metrics` / `monitor_artifacts`: selected reports reach the pipeline, renamed."""

from pipec import PipelineDecorator


@PipelineDecorator.component(
    return_values=["value"],
    monitor_metrics=[(("train", "loss"), ("summary", "final_loss")), ("train", "accuracy")],
    monitor_artifacts=[("table", "final_table"), "notes"],
)
def train():
    from pipec import Task
    from pipec.testing.observe import body

    body("train")
    task = Task.current_task()
    logger = task.get_logger()
    logger.report_scalar(title="train", series="loss", value=0.25, iteration=0)
    logger.report_scalar(title="train", series="accuracy", value=0.75, iteration=0)
    logger.report_scalar(title="train", series="unmonitored", value=1.0, iteration=0)
    task.upload_artifact("table", {"rows": 3})
    task.upload_artifact("notes", "hello")
    task.upload_artifact("private", [1, 2])
    return 1


@PipelineDecorator.pipeline(name="conformance-monitor", project="conformance", version="1")
def main():
    train()


if __name__ == "__main__":
    main()
