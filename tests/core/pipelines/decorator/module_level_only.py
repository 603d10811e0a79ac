"""A pipeline defined at module level and never called."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["greeting"])
def greet(name: str):
    return f"hello {name}"


@PipelineDecorator.pipeline(name="never called", project="tests")
def never_called(name: str = "world"):
    return greet(name)
