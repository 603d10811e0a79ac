"""A task script whose configuration the pipeline overrides, and whose task it renames
and tags (`configuration_overrides`, `task_overrides`); it closes its task at the end."""

import json
import os
from pathlib import Path

from pipec import Task

task = Task.init(project_name="surface tests", task_name="surface configure", tags=["from-script"])

config = {"epochs": 1, "lr": 0.1}
config = task.connect_configuration(config, description="training settings")
overridden = task.connect_configuration(
    Path(__file__).with_name("defaults.json"), name="file settings"
)
untouched = task.connect_configuration(
    os.path.join(os.path.dirname(__file__), "defaults.json"), name="kept settings"
)

task.execute_remotely()

task.upload_artifact(
    "seen",
    artifact_object={
        "config": config,
        "overridden": json.loads(Path(overridden).read_text()),
        "overridden_is_path": isinstance(overridden, Path),
        "overridden_moved": Path(overridden).name != "defaults.json",
        "untouched": json.loads(Path(untouched).read_text()),
        "untouched_same": untouched == os.path.join(os.path.dirname(__file__), "defaults.json"),
        "name": task.name,
        "tags": task.get_tags(),
        "status": task.get_status(),
    },
)
task.close()
try:
    task.connect({"late": 1})
    closed = "connect worked after close"
except ValueError as exc:
    closed = str(exc)
task.upload_artifact("closed", artifact_object={"current": Task.current_task(), "error": closed})
