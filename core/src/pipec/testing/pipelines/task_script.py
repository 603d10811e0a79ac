"""The task script `task_step.py` runs as a step (a template, as in ClearML)."""

from pipec import Task
from pipec.testing.observe import body

task = Task.init(project_name="conformance", task_name="conformance task script")
args = {"value": 1, "label": "default"}
task.connect(args)
body("task", args["value"], args["label"])
task.upload_artifact("result", args["value"] * 3)
