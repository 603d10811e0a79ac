"""@component applied by calling it on a function, not with `@`."""

from pipec import PipelineDecorator


def prepare(n: int = 2):
    return list(range(n))


prepare_step = PipelineDecorator.component(return_values=["data"])(prepare)


@PipelineDecorator.pipeline(name="call form", project="tests")
def call_form():
    return prepare_step(3)


if __name__ == "__main__":
    call_form()
