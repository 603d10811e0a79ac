"""The logic changes a value inside a step output before passing it on."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["config"])
def load_config():
    return {"optimizer": {"lr": 0.1}, "tags": []}


@PipelineDecorator.component(return_values=["model"])
def train(config):
    return config["optimizer"]["lr"]


@PipelineDecorator.pipeline(name="nested mutation", project="tests")
def nested_mutation():
    config = load_config()
    config["optimizer"]["lr"] = 0.01
    return train(config)


if __name__ == "__main__":
    nested_mutation()
