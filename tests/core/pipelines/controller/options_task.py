"""A task script used as a template by all_options.py (found beside it by Task.init)."""

from pipec import Task, TaskTypes

task = Task.init(
    project_name="pipec tests",
    task_name="options template",
    task_type=TaskTypes.data_processing,
)

args = {"rows": 100, "sources": [], "mapping": {}}
task.connect(args)

task.execute_remotely()

print("rows:", args["rows"])
