"""Pipeline step 1: publish the iris CSV as an artifact.

Run by hand once, this script only registers itself as a template task
(execute_remotely stops it there). The pipeline in pipeline_from_tasks.py
then finds the template by project and name and runs a copy of it.
"""

import os

from pipec import StorageManager, Task

task = Task.init(project_name="examples", task_name="pipeline step 1 dataset artifact")

# Register the task and stop; the real run happens inside the pipeline.
task.execute_remotely()

# The CSV sits next to the examples, so nothing is downloaded.
csv_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "iris.csv")
local_path = StorageManager.get_local_copy(remote_url=csv_path)

# Later steps read it through "${stage_data.artifacts.dataset.url}".
task.upload_artifact("dataset", artifact_object=local_path)

print("dataset artifact uploaded")
