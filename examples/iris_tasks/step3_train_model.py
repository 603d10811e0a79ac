"""Pipeline step 3: train a classifier on the split produced by step 2.

The pipeline passes step 2's task id in "General/dataset_task_id"; this
script pulls the four arrays from that task's artifacts.
"""

import pickle

from pipec import Task
from sklearn.linear_model import LogisticRegression

task = Task.init(project_name="examples", task_name="pipeline step 3 train model")

args = {"dataset_task_id": ""}
task.connect(args)

# Register the task and stop; the real run happens inside the pipeline.
task.execute_remotely()

dataset_task = Task.get_task(task_id=args["dataset_task_id"])
X_train = dataset_task.artifacts["X_train"].get()
X_test = dataset_task.artifacts["X_test"].get()
y_train = dataset_task.artifacts["y_train"].get()
y_test = dataset_task.artifacts["y_test"].get()

model = LogisticRegression(max_iter=1000)
model.fit(X_train, y_train)

accuracy = float(model.score(X_test, y_test))
task.get_logger().report_scalar("score", "accuracy", value=accuracy, iteration=0)
print(f"accuracy: {accuracy:.3f}")

# Keep the trained model as an artifact of this task.
with open("model.pkl", "wb") as f:
    pickle.dump(model, f)
task.upload_artifact("model", artifact_object="model.pkl")

print("model trained and stored")
