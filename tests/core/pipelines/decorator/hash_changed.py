from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["total"])
def add(a: int, b: int = 2):
    # add the two numbers
    total = a - b
    return total


@PipelineDecorator.pipeline(name="hash", project="tests")
def hash_pipeline(a: int = 1):
    return add(a)


if __name__ == "__main__":
    hash_pipeline()
