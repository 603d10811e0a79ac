"""A pipeline whose first step reads the latest version of the iris dataset and whose
second trains on it and publishes the model, as a ClearML pipeline reading a dataset is
written.

Run create_dataset.py (and new_version.py) first, then this file, with python or
`pipec run`. Only the imports point at pipec.
"""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["data_frame", "dataset_version"], cache=True)
def load_dataset(dataset_project: str, dataset_name: str):
    import glob
    import os

    import pandas as pd
    from pipec import Dataset

    dataset = Dataset.get(dataset_project=dataset_project, dataset_name=dataset_name)
    folder = dataset.get_local_copy()
    parts = sorted(glob.glob(os.path.join(folder, "*.csv")))
    return pd.concat([pd.read_csv(part) for part in parts], ignore_index=True), dataset.version


@PipelineDecorator.component(return_values=["accuracy"], cache=True)
def train(data_frame, random_state: int = 42):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X = data_frame.drop(columns=["target"])
    y = data_frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=random_state, stratify=y
    )
    model = LogisticRegression(max_iter=500).fit(X_train, y_train)

    # publish the model, as ClearML's model docs do: evaluate_pipeline.py reads it back
    import os
    import pickle
    import tempfile

    from pipec import OutputModel, Task

    weights = os.path.join(tempfile.mkdtemp(), "iris_classifier.pkl")
    with open(weights, "wb") as handle:
        pickle.dump(model, handle)
    output_model = OutputModel(
        task=Task.current_task(), name="iris classifier", framework="ScikitLearn"
    )
    output_model.update_weights(weights_filename=weights)
    output_model.publish()
    return float(model.score(X_test, y_test))


@PipelineDecorator.pipeline(name="iris from a dataset", project="dataset_examples", version="1.0")
def pipeline(dataset_project: str = "dataset_examples", dataset_name: str = "iris"):
    data_frame, version = load_dataset(dataset_project, dataset_name)
    accuracy = train(data_frame)
    print(f"trained on iris version {version}: accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
