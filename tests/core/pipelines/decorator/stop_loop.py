"""Runs one step per element of another step's output: cannot be a static graph."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["shards"])
def list_shards():
    return ["a", "b", "c"]


@PipelineDecorator.component(return_values=["size"])
def process(shard):
    return len(shard)


@PipelineDecorator.pipeline(name="loop", project="tests")
def loop():
    sizes = []
    for shard in list_shards():  # decision
        sizes.append(process(shard))
    return sizes


if __name__ == "__main__":
    loop()
