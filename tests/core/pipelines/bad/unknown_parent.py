"""A step that names a parent no step has: `prepare_dta` instead of `prepare_data`."""

from pipec import PipelineController


def prepare_data(rows=10):
    return list(range(rows))


def train(rows=10):
    return rows * 2


if __name__ == "__main__":
    pipe = PipelineController(name="unknown parent", project="pipec tests", version="1.0.0")
    pipe.add_function_step(
        name="prepare_data",
        function=prepare_data,
        function_return=["data"],
    )
    pipe.add_function_step(  # expected-error
        name="train",
        function=train,
        parents=["prepare_dta"],
        function_return=["model"],
    )
    pipe.start()
