"""A task script whose connected arguments the pipeline overrides (found beside the pipeline)."""

from pipec import Task

task = Task.init(project_name="pipec tests", task_name="run configure")

args = {"epochs": 1, "rate": 0.1, "shuffle": False, "label": "default"}
task.connect(args)

task.execute_remotely()

# what the step really got, with the types it got them as
task.upload_artifact("args", artifact_object={k: [v, type(v).__name__] for k, v in args.items()})
