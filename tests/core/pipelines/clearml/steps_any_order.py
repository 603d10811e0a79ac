"""Written the way ClearML users write it: the last step is added first, and a step refers
to a step added after it (ClearML accepts both); `version` is a number."""

from pipec import PipelineController


def load(n=3):
    return list(range(n))


def double(values):
    return [2 * v for v in values]


def total(values):
    return sum(values)


pipe = PipelineController(name="steps any order", project="pipec tests", version=1.0)
pipe.add_parameter(name="n", default=3)
pipe.add_function_step(
    name="total",
    function=total,
    function_kwargs={"values": "${double.values}"},
    function_return=["sum"],
)
pipe.add_function_step(
    name="double",
    function=double,
    function_kwargs={"values": "${load.values}"},
    function_return=["values"],
)
pipe.add_function_step(
    name="load", function=load, function_kwargs={"n": "${pipeline.n}"}, function_return=["values"]
)

if __name__ == "__main__":
    pipe.start_locally(run_pipeline_steps_locally=True)
