"""A pipeline parameter used as a dict key in the logic."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["model"])
def train(lr: float):
    return lr


@PipelineDecorator.pipeline(name="parameter key", project="tests")
def parameter_key(size: str = "small"):
    learning_rates = {"small": 0.1, "large": 1.0}
    return train(learning_rates[size])


if __name__ == "__main__":
    parameter_key()
