"""The first of two pipelines, written as ClearML's docs write them (only the imports
say pipec): a training step publishes its model with `OutputModel`."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["model_id"])
def train(epochs: int = 3):
    import os
    import pickle
    import tempfile

    from pipec import OutputModel, Task

    weights = {"slope": 0.5 * epochs}
    path = os.path.join(tempfile.mkdtemp(), "regressor.pkl")
    with open(path, "wb") as f:
        pickle.dump(weights, f)
    output_model = OutputModel(
        task=Task.current_task(),
        name="tiny regressor",
        framework="scikit-learn",
        config_dict={"epochs": epochs},
        label_enumeration={"negative": 0, "positive": 1},
        tags=["tiny", "demo"],
    )
    output_model.update_weights(weights_filename=path)
    output_model.publish()
    return output_model.id


@PipelineDecorator.pipeline(name="publish model", project="models demo", version="1.0")
def pipeline(epochs: int = 3):
    model_id = train(epochs=epochs)
    print(f"published model {model_id}")
    return model_id


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline(epochs=3)
