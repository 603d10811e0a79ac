"""The same component as hash_original.py, laid out and commented differently."""

from pipec import PipelineDecorator


# a comment above the component
# fmt: off
@PipelineDecorator.component(
    return_values=["total"],
)
def add(
    a: int,
    b: int=2,
):
    total = (a
             + b)  # a different comment

    return total
# fmt: on


@PipelineDecorator.pipeline(name="hash", project="tests")
def hash_pipeline(a: int = 1):
    return add(a)


if __name__ == "__main__":
    hash_pipeline()
