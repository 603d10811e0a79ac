"""One step that prints, writes a marker file (when given one) and returns a value."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["echo"], cache=True)
def touch(word: str, marker: str, as_set: bool):
    print(f"step touch says {word}")
    if marker:
        with open(marker, "w") as handle:
            handle.write(word)
    return {word} if as_set else {"word": word}


@PipelineDecorator.pipeline(name="tiny", project="pipec tests", version="1.0.0")
def pipeline(word: str = "hello", marker: str = "", as_set: bool = False):
    print("the pipeline logic says hi")
    return touch(word, marker, as_set)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
