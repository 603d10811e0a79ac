"""A function step whose required argument gets no value: it would fail when the step runs."""

from pipec import PipelineController


def step_one(url, rows=10):
    return url, rows


if __name__ == "__main__":
    pipe = PipelineController(name="missing argument", project="pipec tests", version="1.0.0")
    pipe.add_function_step(  # expected-error
        name="step_one",
        function=step_one,
        function_kwargs=dict(rows=5),
        function_return=["url", "rows"],
    )
    pipe.start()
