"""Pipeline step 2: split the iris data into train and test sets.

The arguments are connected to the task, so the pipeline can override them
("General/dataset_url", "General/test_size", ...) in the copy it runs.
"""

import pandas as pd
from pipec import StorageManager, Task
from sklearn.model_selection import train_test_split

task = Task.init(project_name="examples", task_name="pipeline step 2 process dataset")

# Either dataset_task_id (a task holding a "dataset" artifact) or
# dataset_url (a direct location of the CSV) must be set.
args = {
    "dataset_task_id": "",
    "dataset_url": "",
    "random_state": 42,
    "test_size": 0.2,
}
task.connect(args)
print(f"arguments: {args}")

# Register the task and stop; the real run happens inside the pipeline.
task.execute_remotely()

if args["dataset_task_id"]:
    dataset_task = Task.get_task(task_id=args["dataset_task_id"])
    local_csv = dataset_task.artifacts["dataset"].get_local_copy()
elif args["dataset_url"]:
    local_csv = StorageManager.get_local_copy(remote_url=args["dataset_url"])
else:
    raise ValueError("set dataset_task_id or dataset_url")

data_frame = pd.read_csv(local_csv)
X = data_frame.drop(columns=["target"]).to_numpy()
y = data_frame["target"].to_numpy()
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=float(args["test_size"]), random_state=int(args["random_state"])
)

# Step 3 fetches these from this task by name.
task.upload_artifact("X_train", X_train)
task.upload_artifact("X_test", X_test)
task.upload_artifact("y_train", y_train)
task.upload_artifact("y_test", y_test)

print("processed dataset uploaded")
