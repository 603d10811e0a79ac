"""Models: a training step publishes an `OutputModel`; an evaluation step reads it with
`InputModel`, by the id passed along and by `query_models`, and gets its weights' URL
from `${train.models.output.-1.url}`."""

from pipec import PipelineController


def train(scale):
    import json
    import os
    import tempfile

    from pipec import OutputModel, Task
    from pipec.testing.observe import body

    body("train", scale)
    model = OutputModel(
        task=Task.current_task(),
        name="conformance scaler",
        framework="custom",
        config_dict={"scale": scale},
        label_enumeration={"low": 0, "high": 1},
        tags=["conformance", "scaler"],
    )
    path = os.path.join(tempfile.mkdtemp(), "scaler.json")
    with open(path, "w") as f:
        json.dump({"scale": scale}, f)
    model.update_weights(weights_filename=path)
    model.publish()
    return model.id


def evaluate(model_id, weights_url, value):
    import json

    from pipec import InputModel, Task
    from pipec.testing.observe import body

    task = Task.current_task()
    model = task.connect(InputModel(model_id=model_id), name="scaler")
    newest = InputModel.query_models(
        project_name="conformance", model_name="conformance scaler", tags=["scaler"]
    )
    with open(model.get_local_copy()) as f:
        scale = json.load(f)["scale"]
    body("evaluate", value * scale)
    return {
        "result": value * scale,
        "newest_is_this_one": newest[0].id == model_id,
        "models_of_that_name": len(newest),
        "url_from_reference": weights_url == model.url,
        "config": model.config_dict,
        "labels": model.labels,
        "published": model.published,
        "framework": model.framework,
        "input_models": [m.id == model_id for m in task.models.input],
    }


if __name__ == "__main__":
    pipe = PipelineController(name="conformance-models", project="conformance", version="1")
    pipe.add_parameter(name="scale", default=3)
    pipe.add_function_step(
        name="train",
        function=train,
        function_kwargs=dict(scale="${pipeline.scale}"),
        function_return=["model_id"],
    )
    pipe.add_function_step(
        name="evaluate",
        function=evaluate,
        function_kwargs=dict(
            model_id="${train.model_id}",
            weights_url="${train.models.output.-1.url}",
            value=2,
        ),
        function_return=["seen"],
    )
    pipe.start()
