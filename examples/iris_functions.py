"""Iris classification built from plain functions with PipelineController.

Each function becomes a step through add_function_step. Steps are wired with
"${...}" references: "${pipeline.url}" reads a pipeline parameter and
"${step_one.data_frame}" reads a value returned by an earlier step, which
also makes that step a parent. The last step reports a scalar that the
controller copies to the pipeline through monitor_metrics.
"""

import os

from pipec import PipelineController

DEFAULT_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "iris.csv")


# Step functions run on their own, so every import lives inside the body.
def step_one(pickle_data_url):
    # The parameter keeps the name used by ClearML's example; here it
    # points at the bundled iris CSV.
    import pandas as pd
    from pipec import StorageManager

    local_csv = StorageManager.get_local_copy(remote_url=pickle_data_url)
    data_frame = pd.read_csv(local_csv)
    return data_frame


def step_two(data_frame, test_size=0.2, random_state=42):
    from sklearn.model_selection import train_test_split

    y = data_frame["target"]
    X = data_frame.drop(columns=["target"])
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state
    )
    # Returned as a single value ("processed_data"): a 4-tuple.
    return X_train, X_test, y_train, y_test


def step_three(data):
    from sklearn.linear_model import LogisticRegression

    X_train, _, y_train, _ = data
    model = LogisticRegression(max_iter=1000)
    model.fit(X_train, y_train)
    return model


def step_four(model, data):
    from pipec import Task
    from sklearn.metrics import accuracy_score

    _, X_test, _, y_test = data
    acc = float(accuracy_score(y_test, model.predict(X_test)))
    # Report on the step's own task; monitor_metrics copies it to the pipeline.
    Task.current_task().get_logger().report_scalar(
        title="score", series="accuracy", value=acc, iteration=0
    )
    return acc


if __name__ == "__main__":
    pipe = PipelineController(name="iris functions", project="examples", version="1.0.0")

    pipe.add_parameter(
        name="url",
        description="location of the iris CSV file",
        default=DEFAULT_CSV,
    )
    pipe.add_function_step(
        name="step_one",
        function=step_one,
        function_kwargs=dict(pickle_data_url="${pipeline.url}"),
        function_return=["data_frame"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="step_two",
        # no parents=[...] needed: the reference below makes step_one a parent
        function=step_two,
        function_kwargs=dict(data_frame="${step_one.data_frame}"),
        function_return=["processed_data"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="step_three",
        function=step_three,
        function_kwargs=dict(data="${step_two.processed_data}"),
        function_return=["model"],
        cache_executed_step=True,
    )
    pipe.add_function_step(
        name="step_four",
        function=step_four,
        function_kwargs=dict(model="${step_three.model}", data="${step_two.processed_data}"),
        function_return=["accuracy"],
        monitor_metrics=[("score", "accuracy")],
    )

    # Run the controller here and every step as a local subprocess.
    pipe.start_locally(run_pipeline_steps_locally=True)

    print("pipeline completed")
