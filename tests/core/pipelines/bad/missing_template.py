"""add_step on a task template that was never run or registered."""

from pipec import PipelineController

if __name__ == "__main__":
    pipe = PipelineController(name="missing template", project="pipec tests", version="1.0.0")
    pipe.add_step(  # expected-error
        name="stage_data",
        base_task_project="pipec tests",
        base_task_name="a task nobody registered",
    )
    pipe.start_locally(run_pipeline_steps_locally=True)
