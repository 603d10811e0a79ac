"""The ClearML task surface inside steps, and the controller's view of a running pipeline.

`writer` reports a scalar, uploads an object and a file and leaves a file in its
cwd; `reader` finds writer's artifacts through `${writer.id}` and looks for that
file in its cwd (the same one, where the pipeline was launched, unless steps are isolated); `configure` is a task script whose connected dict gets
`parameter_override` strings cast to its types. A post_execute_callback reports
and uploads on the pipeline itself. Run by hand, the script starts the pipeline
without waiting, waits, and prints what the controller says as one JSON line.
"""

import json
import os

from pipec import PipelineController


def writer(rows):
    import os

    from pipec import Task

    task = Task.current_task()
    task.get_logger().report_scalar("loss", "train", value=0.25, iteration=3)
    task.upload_artifact("table", artifact_object={"rows": rows})
    with open("notes.txt", "w") as handle:
        handle.write("written by writer")
    task.upload_artifact("notes", artifact_object="notes.txt")
    with open("scratch.txt", "w") as handle:
        handle.write("left in writer's cwd")
    return os.getcwd()


def reader(task_id, writer_cwd):
    import os

    from pipec import Task

    source = Task.get_task(task_id=task_id)
    with open(source.artifacts["notes"].get_local_copy()) as handle:
        notes = handle.read()
    return {
        "table": source.artifacts["table"].get(),
        "notes": notes,
        "sees_scratch": os.path.exists("scratch.txt"),
        "same_cwd": os.getcwd() == writer_cwd,
    }


def announce(pipeline, node):
    pipeline.get_logger().report_scalar("callbacks", node.name, value=1.0, iteration=0)
    pipeline.upload_artifact("announced", artifact_object={"step": node.name})


def main():
    pipe = PipelineController(name="task surface", project="pipec tests", version="1.0.0")
    pipe.add_parameter("rows", default=3)
    pipe.add_parameter("label", default="from pipeline")
    pipe.add_function_step(
        name="writer",
        function=writer,
        function_kwargs=dict(rows="${pipeline.rows}"),
        function_return=["cwd"],
    )
    pipe.add_function_step(
        name="reader",
        function=reader,
        function_kwargs=dict(task_id="${writer.id}", writer_cwd="${writer.cwd}"),
        function_return=["seen"],
        post_execute_callback=announce,
    )
    pipe.add_step(
        name="configure",
        base_task_project="pipec tests",
        base_task_name="run configure",
        parameter_override={
            "General/epochs": "5",
            "General/rate": "0.5",
            "General/shuffle": "true",
            "General/label": "${pipeline.label}",
        },
    )
    pipe.start(wait=False)
    finished = pipe.wait()
    dag = {
        name: {
            "name": node.name,
            "parents": node.parents,
            "base_task_id": node.base_task_id,
            "executed": node.executed,
            "parameters": node.parameters,
            "status": node.status,
        }
        for name, node in pipe.get_pipeline_dag().items()
    }
    view = {
        "finished": finished,
        "successful": pipe.is_successful(),
        "run_id": pipe.id,
        "dag": dag,
        "cwd": os.getcwd(),
    }
    print("CONTROLLER " + json.dumps(view))


if __name__ == "__main__":
    main()
