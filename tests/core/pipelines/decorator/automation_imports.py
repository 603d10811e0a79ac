"""ClearML's own import paths, spelled with pipec."""

from pipec.automation import PipelineController
from pipec.automation.controller import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="automation paths", project="tests")
def automation_paths(x: int = 21):
    return double(x)


def triple(x):
    return 3 * x


controller = PipelineController(name="automation controller", project="tests")
controller.add_parameter(name="x", default=2)
controller.add_function_step(
    name="triple",
    function=triple,
    function_kwargs=dict(x="${pipeline.x}"),
    function_return=["tripled"],
)


if __name__ == "__main__":
    controller.start_locally(run_pipeline_steps_locally=True)
