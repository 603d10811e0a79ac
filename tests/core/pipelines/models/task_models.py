"""`Task.update_output_model`, `monitor_models` and `${step.models...}` references in a
controller pipeline; the reading step connects the model and reads `task.models`, and
the last step reads what it connected through `${evaluate.models.input...}`. The
training step is cached: a rerun reuses its models, ids and all."""

from pipec import PipelineController


def train(size):
    import os
    import tempfile

    from pipec import Task

    task = Task.current_task()
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "weights.bin")
    with open(path, "wb") as f:
        f.write(b"w" * size)
    url = task.update_output_model(path, name="weights", tags=["bin"], comment="first")
    package = os.path.join(folder, "bundle")
    os.mkdir(package)
    for name in ("a.txt", "b.txt"):
        with open(os.path.join(package, name), "w") as f:
            f.write(name)
    task.update_output_model(package, name="bundle")
    return url


def evaluate(weights_url, weights_id, weights_name, bundle_url, returned_url):
    import os

    from pipec import InputModel, Task

    task = Task.current_task()
    model = task.connect(InputModel(model_id=weights_id))
    folder = InputModel.query_models(model_name="train - bundle")[0].get_local_copy()
    return {
        "same_url": weights_url == returned_url == model.url,
        "name": weights_name,
        "size": os.path.getsize(model.get_weights()),
        "bundle": sorted(os.listdir(folder)),
        "bundle_url_is_zip": bundle_url.endswith(".zip"),
        "input": [[m.id, m.name] for m in task.models.input],
        "input_by_name": task.models.input["weights"].id == weights_id,
    }


def report(input_id, input_url, input_tags):
    return [input_id, input_url, input_tags]


if __name__ == "__main__":
    pipe = PipelineController(name="task models", project="models tests", version="1.0")
    pipe.add_function_step(
        name="train",
        function=train,
        function_kwargs=dict(size=5),
        function_return=["url"],
        monitor_models=[("weights", "best weights")],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="evaluate",
        function=evaluate,
        function_kwargs=dict(
            weights_url="${train.models.output.0.url}",
            weights_id="${train.models.output.weights.id}",
            weights_name="${train.models.output.0.name}",
            bundle_url="${train.models.output.-1.url}",
            returned_url="${train.url}",
        ),
        function_return=["seen"],
    )
    pipe.add_function_step(
        name="report",
        function=report,
        function_kwargs=dict(
            input_id="${evaluate.models.input.-1.id}",
            input_url="${evaluate.models.input.weights.url}",
            input_tags="${evaluate.models.input.0.tags}",
        ),
        function_return=["inputs"],
    )
    pipe.start()
