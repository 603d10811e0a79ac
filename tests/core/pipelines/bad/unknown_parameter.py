"""`${pipeline.missing}`: no parameter of that name was added."""

from pipec import PipelineController


def step_one(url, rows):
    return url, rows


if __name__ == "__main__":
    pipe = PipelineController(name="unknown parameter", project="pipec tests", version="1.0.0")
    pipe.add_parameter(name="url", default="https://example.com/iris.csv")
    pipe.add_function_step(  # expected-error
        name="step_one",
        function=step_one,
        function_kwargs=dict(url="${pipeline.url}", rows="${pipeline.missing}"),
        function_return=["url", "rows"],
    )
    pipe.start()
