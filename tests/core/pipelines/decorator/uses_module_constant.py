"""A component that reads a module-level constant it does not define."""

from pipec import PipelineDecorator

SCALE = 10


@PipelineDecorator.component(return_values=["scaled"])
def scale(x: float):
    factor = 2
    return x * factor * SCALE


@PipelineDecorator.pipeline(name="module constant", project="tests")
def module_constant(x: float = 1.5):
    return scale(x)


if __name__ == "__main__":
    module_constant()
