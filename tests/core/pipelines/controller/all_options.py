"""Every option of add_function_step and add_step, set the way ClearML users set them."""

from pipec import PipelineController, Task, TaskTypes


def retry_twice(pipeline, node, retries):
    return retries < 2


def before_step(pipeline, node, parameters):
    print("starting", node.name, parameters)
    return True


def after_step(pipeline, node):
    print("finished", node.name)


def on_status(pipeline, node, previous_status):
    print(node.name, previous_status, "->", node.status)


def keep_training(pipeline, node):
    return node.job.task.get_last_scalar_metrics()["loss"]["train"]["last"] > 0.1


def make_task(node):
    return Task.create(project_name="pipec tests", task_name="made by factory")


def scale(values, factor=2):
    return [v * factor for v in values]


def prepare(rows: int, ratio=0.5, *, seed=7):
    import random

    random.seed(seed)
    data = scale([random.random() for _ in range(rows)])
    return data, ratio


def train(data, ratio):
    cut = int(len(data) * ratio)
    return sum(data[:cut]) / max(cut, 1)


if __name__ == "__main__":
    pipe = PipelineController(
        name="all options",
        project="pipec tests",
        version="2.1.0",
        pool_frequency=0.5,
        add_pipeline_tags=True,
        target_project="pipec tests/runs",
        abort_on_failure=True,
        retry_on_failure=2,
        docker="python:3.11-slim",
        packages=["pandas>=2.0"],
        repo="https://github.com/example/pipelines.git",
        repo_branch="main",
        output_uri="s3://bucket/pipelines",
    )
    pipe.set_default_execution_queue("default")
    pipe.add_parameter(name="rows", default=100, description="how many rows")
    pipe.add_parameter(name="ratio", default=0.5)
    pipe.add_parameter(name="image", default="python:3.11", param_type="docker-image")
    pipe.add_parameter(name="flags", default=["fast"])
    pipe.add_parameter(name="verbose", default=False)

    pipe.add_function_step(  # step: prepare #
        name="prepare",
        function=prepare,
        function_kwargs=dict(rows="${pipeline.rows}"),
        function_return=["data", "ratio"],
        project_name="pipec tests/steps",
        task_name="prepare data",
        task_type=TaskTypes.data_processing,
        auto_connect_frameworks={"pytorch": False},
        auto_connect_arg_parser={"verbose": False},
        packages=["numpy>=1.24", "pandas"],
        repo="https://github.com/example/steps.git",
        repo_branch="develop",
        repo_commit="0123abcd",
        helper_functions=[scale],
        docker="python:3.11",
        docker_args="--shm-size=1g",
        docker_bash_setup_script="apt-get update && apt-get install -y git",
        execution_queue="cpu",
        monitor_metrics=[("loss", "train"), (("score", "acc"), ("summary", "accuracy"))],
        monitor_artifacts=["data", ("raw", "raw_copy")],
        monitor_models=["model", ("best", "best_model")],
        time_limit=600.0,
        continue_on_fail=False,
        pre_execute_callback=before_step,
        post_execute_callback=after_step,
        cache_executed_step=True,
        retry_on_failure=3,
        status_change_callback=on_status,
        tags=["nightly", "iris"],
        output_uri="s3://bucket/steps",
        draft=True,
        working_dir="src",
        continue_behaviour={"continue_on_fail": False, "skip_children_on_fail": False},
        stage="prep",
    )
    pipe.add_function_step(  # step: train #
        name="train",
        function=train,
        function_kwargs=dict(data="${prepare.data}", ratio="${prepare.ratio}"),
        function_return=["score"],
        packages="requirements.txt",
        tags="single",
        retry_on_failure=retry_twice,
        post_execute_callback=lambda pipeline, node: print(node.name),
        loop_condition=keep_training,
        loop_body=["train"],
        max_loop_iterations=5,
    )
    pipe.add_step(  # step: ingest #
        name="ingest",
        base_task_project="pipec tests",
        base_task_name="options template",
        parameter_override={
            "General/rows": "${pipeline.rows}",
            "General/sources": ["${prepare.id}", "static.csv"],
            "General/mapping": {"train": "${prepare.artifacts.data.url}"},
        },
        configuration_overrides={"model_config": "${train.artifacts.config.url}"},
        task_overrides={"container.image": "${pipeline.image}"},
        execution_queue="gpu",
        monitor_metrics=[("loss", "val")],
        monitor_artifacts=[("dataset", "ingested")],
        monitor_models=["model"],
        time_limit=60,
        clone_base_task=False,
        continue_on_fail=True,
        pre_execute_callback=before_step,
        post_execute_callback=after_step,
        cache_executed_step=True,
        retry_on_failure=retry_twice,
        status_change_callback=on_status,
        recursively_parse_parameters=True,
        output_uri=True,
        continue_behaviour={"skip_children_on_abort": False},
        stage="ingest",
    )
    pipe.add_step(  # step: ingest_plain #
        name="ingest_plain",
        base_task_id="0fb3a650548bd8bb7acf4600c7149e67",
        parents=["ingest"],
        parameter_override={"General/sources": ["${prepare.id}"]},
    )
    pipe.add_step(  # step: from_factory #
        name="from_factory",
        base_task_factory=make_task,
        parents=["ingest_plain"],
        retry_on_failure=1,
    )

    pipe.start(
        queue="controllers",
        step_task_created_callback=before_step,
        step_task_completed_callback=after_step,
    )
