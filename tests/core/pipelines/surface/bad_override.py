"""A text configuration override that is not JSON, for a task script that connects a dict."""

from pipec import PipelineController

if __name__ == "__main__":
    pipe = PipelineController(
        name="task surface bad override", project="surface tests", version="1.0"
    )
    pipe.add_step(
        name="configure",
        base_task_project="surface tests",
        base_task_name="surface configure",
        configuration_overrides={"General": "epochs: 7"},
        continue_on_fail=True,
    )
    pipe.start()
