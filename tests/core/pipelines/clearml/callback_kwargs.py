"""Written the way ClearML users write it: a pre_execute_callback reads a function step's
parameter under `kwargs/NAME` and changes it there."""

from pipec import PipelineController


def bump(pipeline, node, parameters):
    print(f"CALLBACK {node.name} {sorted(parameters.items())}")
    parameters["kwargs/x"] = parameters["kwargs/x"] * 10
    return True


def scale(x=1, factor=2):
    return x * factor


pipe = PipelineController(name="callback kwargs", project="pipec tests", version="1")
pipe.add_function_step(
    name="scale",
    function=scale,
    function_kwargs={"x": 3},
    function_return=["y"],
    pre_execute_callback=bump,
)

if __name__ == "__main__":
    pipe.start()
