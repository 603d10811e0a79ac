"""A pipeline far from its task script: the template comes from the registry."""

from pipec import PipelineController

if __name__ == "__main__":
    pipe = PipelineController(name="registered template", project="pipec tests", version="1.0.0")
    pipe.add_step(  # expected-error (when the template is not registered)
        name="stage_data",
        base_task_project="examples",
        base_task_name="pipeline step 1 dataset artifact",
    )
    pipe.add_step(
        name="use_data",
        base_task_project="pipec tests",
        base_task_name="options template",
        parameter_override={"General/sources": "${stage_data.artifacts.dataset.url}"},
    )
    pipe.start_locally(run_pipeline_steps_locally=True)
