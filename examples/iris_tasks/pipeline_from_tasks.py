"""A pipeline assembled from existing tasks.

Run step1_dataset_artifact.py, step2_data_processing.py and
step3_train_model.py once first: each registers a template task. The
controller looks the templates up by project and name, runs a copy of each,
and overrides their connected arguments with "${...}" references to
earlier steps (an artifact URL, a task id).
"""

from pipec import PipelineController

if __name__ == "__main__":
    pipe = PipelineController(
        name="iris from tasks", project="examples", version="1.0.0", add_pipeline_tags=False
    )

    # Queue for steps when they are sent away; ignored by the local run below.
    pipe.set_default_execution_queue("default")

    pipe.add_step(
        name="stage_data",
        base_task_project="examples",
        base_task_name="pipeline step 1 dataset artifact",
    )
    pipe.add_step(
        name="stage_process",
        parents=["stage_data"],
        base_task_project="examples",
        base_task_name="pipeline step 2 process dataset",
        parameter_override={
            "General/dataset_url": "${stage_data.artifacts.dataset.url}",
            "General/test_size": 0.25,
        },
    )
    pipe.add_step(
        name="stage_train",
        parents=["stage_process"],
        base_task_project="examples",
        base_task_name="pipeline step 3 train model",
        parameter_override={"General/dataset_task_id": "${stage_process.id}"},
    )

    # Run the controller here and every step as a local subprocess.
    pipe.start_locally(run_pipeline_steps_locally=True)

    print("pipeline from tasks completed")
