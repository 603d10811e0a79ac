"""A pipeline step wrapped in the user's own decorator.

our_decorator sits UNDER @PipelineDecorator.component, so the step that
runs is the wrapped function: step() returns 1, the wrapper adds 1, and the
pipeline sees 2. The decorator is defined at module level, next to the step.
"""

from pipec.automation.controller import PipelineDecorator


def our_decorator(func):
    # Adds 1 to whatever the wrapped function returns.
    def function_wrapper(*args, **kwargs):
        return func(*args, **kwargs) + 1

    return function_wrapper


@PipelineDecorator.component()
@our_decorator
def step():
    return 1


@PipelineDecorator.pipeline(name="decorated step", project="examples", version="1.0.0")
def pipeline():
    result = step()
    assert result == 2
    return result


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
