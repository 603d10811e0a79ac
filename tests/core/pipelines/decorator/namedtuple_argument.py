"""A namedtuple holding step outputs, passed to the next component."""

from collections import namedtuple

from pipec import PipelineDecorator

Split = namedtuple("Split", ["train", "test"])


@PipelineDecorator.component(return_values=["train, test"])
def split():
    return [1, 2], [3]


@PipelineDecorator.component(return_values=["size"])
def size(data):
    return len(data.train) + len(data.test)


@PipelineDecorator.pipeline(name="namedtuple", project="tests")
def namedtuple_pipeline():
    train, test = split()
    return size(Split(train, test))


if __name__ == "__main__":
    namedtuple_pipeline()
