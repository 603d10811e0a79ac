"""Step names a graph has to quote or turn into identifiers."""

from pipec import PipelineController


def step(value=1):
    return value


if __name__ == "__main__":
    pipe = PipelineController(name='odd "names"', project="pipec tests", version="1.0.0")
    pipe.add_function_step(name="load data", function=step, function_return=["out"])
    pipe.add_function_step(name="load-data", function=step, parents=["load data"])
    pipe.add_function_step(name='say "hi"', function=step, parents=["load-data"])
    pipe.add_function_step(name="2nd pass", function=step, parents=['say "hi"'])
    pipe.start()
