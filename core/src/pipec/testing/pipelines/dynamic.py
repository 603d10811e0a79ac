"""Pipeline logic that branches on a step's value: which step runs next depends on it."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["score"])
def evaluate(x):
    from pipec.testing.observe import body

    body("evaluate", x)
    return x / 10


@PipelineDecorator.component(return_values=["value"])
def improve(score):
    from pipec.testing.observe import body

    body("improve", score)
    return score + 1


@PipelineDecorator.component(return_values=["value"])
def report(score):
    from pipec.testing.observe import body

    body("report", score)
    return f"kept {score}"


@PipelineDecorator.pipeline(name="conformance-dynamic", project="conformance", version="1")
def main(x: int = 8, threshold: float = 0.5):
    score = evaluate(x)
    if score > threshold:
        return improve(score)
    return report(score)


if __name__ == "__main__":
    main()
