"""Decorator logic that decides on a step's value: runs on debug/local, not statically."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["accuracy"], cache=True)
def score(threshold: float):
    print(f"scoring against {threshold}")
    return 0.75


@PipelineDecorator.component(return_values=["report"], cache=True)
def publish(accuracy: float):
    print(f"publishing {accuracy}")
    return f"accuracy {accuracy:.2f}"


@PipelineDecorator.component(return_values=["report"], cache=True)
def retrain(accuracy: float):
    return f"retrain from {accuracy:.2f}"


@PipelineDecorator.pipeline(name="dynamic", project="pipec tests", version="1.0.0")
def pipeline(threshold: float = 0.5):
    acc = score(threshold)
    if acc > threshold:  # decision
        report = publish(acc)
    else:
        report = retrain(acc)
    print(f"logic chose: {report}")
    return {"accuracy": acc, "report": report}


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
