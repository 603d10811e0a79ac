"""A failed step fails the run with its own error, also when the logic then trips over
what it left: its skipped child's None, indexed and multiplied."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["data"])
def load():
    from pipec.testing.observe import body

    body("load")
    raise ValueError("planned failure")


@PipelineDecorator.component(return_values=["scores"])
def train(data):
    from pipec.testing.observe import body

    body("train", data)
    return {"best": 0.5}


@PipelineDecorator.pipeline(
    name="conformance-logic-after-failure", project="conformance", version="1"
)
def main():
    data = load()
    scores = train(data)
    return scores["best"] * 100


if __name__ == "__main__":
    main()
