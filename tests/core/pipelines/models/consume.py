"""The second pipeline: it reads the newest published model of that name with
`InputModel`, as a ClearML pipeline reads one from the server."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["prediction"])
def predict(x: float = 2.0):
    import pickle

    from pipec import InputModel, Task

    task = Task.current_task()
    model = InputModel(name="tiny regressor", project="models demo", only_published=True)
    task.connect(model)
    with open(model.get_local_copy(), "rb") as f:
        weights = pickle.load(f)
    print(
        f"model {model.id} ({model.framework}), config {model.config_dict}, labels {model.labels}"
    )
    return weights["slope"] * x


@PipelineDecorator.pipeline(name="use model", project="models demo", version="1.0")
def pipeline(x: float = 2.0):
    prediction = predict(x=x)
    print(f"prediction {prediction}")
    return prediction


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline(x=2.0)
