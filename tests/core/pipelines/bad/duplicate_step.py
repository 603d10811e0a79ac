"""The same step name added twice."""

from pipec import PipelineController


def train(rows=10):
    return rows


def train_again(rows=20):
    return rows


if __name__ == "__main__":
    pipe = PipelineController(name="duplicate step", project="pipec tests", version="1.0.0")
    pipe.add_function_step(name="train", function=train, function_return=["model"])
    pipe.add_function_step(  # expected-error
        name="train",
        function=train_again,
        function_return=["model"],
    )
    pipe.start()
