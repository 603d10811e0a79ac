"""function_kwargs names an argument the function does not take (`scael` for `scale`)."""

from pipec import PipelineController


def step_one(rows=10):
    return list(range(rows))


def step_two(data, scale=1):
    return len(data) * scale


if __name__ == "__main__":
    pipe = PipelineController(name="unknown kwarg", project="pipec tests", version="1.0.0")
    pipe.add_function_step(name="step_one", function=step_one, function_return=["data"])
    pipe.add_function_step(  # expected-error
        name="step_two",
        function=step_two,
        function_kwargs=dict(data="${step_one.data}", scael=2),
        function_return=["size"],
    )
    pipe.start()
