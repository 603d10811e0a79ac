"""Decorator logic that needs the value of a step that failed."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["accuracy"])
def score():
    raise RuntimeError("no data")  # the step fails here


@PipelineDecorator.component(return_values=["report"])
def publish(accuracy: float):
    return accuracy


@PipelineDecorator.pipeline(name="logic fails", project="pipec tests", version="1.0.0")
def pipeline():
    accuracy = score()
    if accuracy > 0.5:  # the logic fails here
        return publish(accuracy)
    return None


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
