"""Written the way ClearML users write it: `PipelineController.get_logger()` and
`upload_artifact()` on the class, before the pipeline starts and from inside a step."""

from pipec import PipelineController


def train(epochs=2):
    from pipec import PipelineController

    for epoch in range(epochs):
        PipelineController.get_logger().report_scalar("loss", "train", 1.0 / (epoch + 1), epoch)
    PipelineController.upload_artifact("trained", {"epochs": epochs})
    return epochs


pipe = PipelineController(name="pipeline reports", project="pipec tests", version="1")
PipelineController.get_logger().report_scalar("setup", "seed", 7, 0)
PipelineController.upload_artifact("settings", {"lr": 0.1})
pipe.add_function_step(name="train", function=train, function_return=["epochs"])

if __name__ == "__main__":
    pipe.start()
