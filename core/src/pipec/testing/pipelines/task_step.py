"""A step from a task script (`add_step`), found beside this file by its Task.init names,
with `parameter_override` references in and `${step.artifacts...}` / parameters out."""

from pipec import PipelineController


def prepare(v):
    from pipec.testing.observe import body

    body("prepare", v)
    return v * 10


def read(result, value):
    from pipec.testing.observe import body

    body("read", result, value)
    return {"result": result, "value": value}


if __name__ == "__main__":
    pipe = PipelineController(name="conformance-task-step", project="conformance", version="1")
    pipe.add_parameter(name="v", default=2)
    pipe.add_function_step(
        name="prepare",
        function=prepare,
        function_kwargs=dict(v="${pipeline.v}"),
        function_return=["value"],
    )
    pipe.add_step(
        name="task",
        base_task_project="conformance",
        base_task_name="conformance task script",
        parameter_override={"General/value": "${prepare.value}", "General/label": "from-pipeline"},
    )
    pipe.add_function_step(
        name="read",
        function=read,
        function_kwargs=dict(
            result="${task.artifacts.result}", value="${task.parameters.General/value}"
        ),
        function_return=["value"],
    )
    pipe.start()
