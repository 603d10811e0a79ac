"""A component that declares two return values but returns three."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["X_train", "X_test"], cache=True)
def split(rows: int = 10):
    data = list(range(rows))
    half = rows // 2
    return data[:half], data[half:], half  # expected-error


@PipelineDecorator.component(return_values=["size"])
def count(items):
    return len(items)


@PipelineDecorator.pipeline(name="return arity", project="pipec tests", version="1.0.0")
def pipeline(rows: int = 10):
    X_train, _ = split(rows)
    return count(X_train)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
