"""A task script run by hand: its task lives in memory; mark_completed / mark_failed end
the process as ClearML's do; the logger keeps images in this machine's cache."""

import json
import sys

import numpy as np
from pipec import Task

task = Task.init(project_name="surface tests", task_name="by hand", tags=["manual"])
task.set_parameters({"Args/epochs": 3}, lr=0.5)
task.connect({"batch": 8}, name="Args")
task.add_tags("one two")
logger = task.get_logger()
logger.report_scalar("loss", "train", value=0.5, iteration=1)
logger.report_image("samples", "array", iteration=0, image=np.ones((2, 2), dtype=np.uint8))
image = logger.reports[-1]
print(
    "TASK "
    + json.dumps(
        {
            "names": [task.id, task.name, task.project],
            "parameters": task.get_parameters(),
            "tags": task.get_tags(),
            "status": task.get_status(),
            "scalars": task.get_reported_scalars(),
            "image": [image.uri, image.file.serializer if image.file else None],
            "current": Task.current_task() is task,
        }
    )
)
sys.stdout.flush()
if sys.argv[1:] == ["fail"]:
    task.mark_failed(status_reason="asked to fail")
else:
    task.mark_completed()
print("after the mark: not printed")
