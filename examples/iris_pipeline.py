"""Iris classification as a decorator pipeline: load -> split -> train -> score.

This is ordinary ClearML pipeline code; only the imports point at pipec.
Each component runs on its own, so it imports everything it needs inside
its body and reads no module globals. The data is the iris CSV shipped in
examples/data, so the example needs no network access.
"""

import os

from pipec import TaskTypes
from pipec.automation.controller import PipelineDecorator

# Module-level code may compute things for the pipeline's defaults;
# the component bodies below never refer to it.
DEFAULT_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "iris.csv")


@PipelineDecorator.component(
    return_values=["data_frame"], cache=True, task_type=TaskTypes.data_processing
)
def load_data(csv_url: str):
    # Fetch (or just resolve) the CSV and read it into a DataFrame.
    import pandas as pd
    from pipec import StorageManager

    path = StorageManager.get_local_copy(remote_url=csv_url)
    return pd.read_csv(path)


# The four results are named with ONE comma-separated string, as many
# ClearML users write it; the step still returns a 4-tuple.
@PipelineDecorator.component(
    return_values=["X_train, X_test, y_train, y_test"],
    cache=True,
    task_type=TaskTypes.data_processing,
)
def split_data(data_frame, test_size: float = 0.2, random_state: int = 42):
    from sklearn.model_selection import train_test_split

    y = data_frame["target"]
    X = data_frame.drop(columns=["target"])
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state
    )
    return X_train, X_test, y_train, y_test


@PipelineDecorator.component(return_values=["model"], cache=True, task_type=TaskTypes.training)
def train_model(X_train, y_train):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=1000)
    model.fit(X_train, y_train)
    return model


@PipelineDecorator.component(return_values=["accuracy"], cache=True, task_type=TaskTypes.qc)
def score_model(model, X_data, Y_data):
    # Fraction of correct predictions, between 0 and 1, reported as a scalar and the
    # confusion matrix as an image (one grey block per cell), as ClearML users log them.
    import numpy as np
    from pipec import Logger
    from sklearn.metrics import accuracy_score, confusion_matrix

    Y_pred = model.predict(X_data)
    accuracy = float(accuracy_score(Y_data, Y_pred))
    logger = Logger.current_logger()
    logger.report_scalar(title="accuracy", series="test", value=accuracy, iteration=0)
    matrix = confusion_matrix(Y_data, Y_pred)
    picture = np.kron(matrix / matrix.max(), np.ones((24, 24)))
    logger.report_image(title="confusion matrix", series="test", iteration=0, image=picture)
    return accuracy


# The pipeline logic. Its arguments (with their defaults) become pipeline
# parameters; the values returned by steps are used like plain objects.
@PipelineDecorator.pipeline(name="iris", project="examples", version="1.0.0")
def iris_pipeline(csv_url: str = DEFAULT_CSV, test_size: float = 0.2):
    data_frame = load_data(csv_url)
    X_train, X_test, y_train, y_test = split_data(data_frame, test_size=test_size)
    model = train_model(X_train, y_train)

    # Printing the model needs its value, so this waits for train_model.
    print(f"model: {model}")

    accuracy = 100 * score_model(model, X_data=X_test, Y_data=y_test)
    print(f"accuracy: {accuracy:.1f}%")
    return accuracy


if __name__ == "__main__":
    # Run every step as a local subprocess instead of sending it to a queue.
    PipelineDecorator.run_locally()
    iris_pipeline()
