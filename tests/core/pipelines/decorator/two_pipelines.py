"""Two pipelines in one file: the user has to say which one."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["data"])
def produce(n: int = 3):
    return list(range(n))


@PipelineDecorator.component(return_values=["total"])
def consume(data):
    return sum(data)


@PipelineDecorator.pipeline(name="first", project="tests")
def first_pipeline(n: int = 3):
    return consume(produce(n))


@PipelineDecorator.pipeline(name="second", project="tests")
def second_pipeline():
    data = produce(5)
    produce(6)
    return consume(data)
