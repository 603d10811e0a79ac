"""Decorator logic that raises on its own: its step completed."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["accuracy"])
def score():
    return 0.25


@PipelineDecorator.pipeline(name="logic raises", project="pipec tests", version="1.0.0")
def pipeline():
    accuracy = score()
    assert accuracy > 0.5, f"accuracy {accuracy} is too low"  # the logic fails here
    return accuracy


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
