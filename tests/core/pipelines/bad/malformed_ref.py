"""`${step_one}` names a step but no output, artifact or id: not a reference."""

from pipec import PipelineController


def step_one(rows=10):
    return list(range(rows))


def step_two(data):
    return len(data)


if __name__ == "__main__":
    pipe = PipelineController(name="malformed reference", project="pipec tests", version="1.0.0")
    pipe.add_function_step(name="step_one", function=step_one, function_return=["data"])
    pipe.add_function_step(  # expected-error
        name="step_two",
        function=step_two,
        function_kwargs=dict(data="${step_one}"),
        function_return=["size"],
    )
    pipe.start()
