"""A second pipeline: it finds the model train_pipeline.py published, by project and name,
and scores it on the latest version of the iris dataset.

Run train_pipeline.py first. Only the imports point at pipec.
"""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["accuracy", "model_id"], cache=False)
def evaluate(dataset_project: str, dataset_name: str, model_name: str):
    import glob
    import os
    import pickle

    import pandas as pd
    from pipec import Dataset, InputModel

    model = InputModel.query_models(project_name=dataset_project, model_name=model_name)[0]
    with open(model.get_weights(), "rb") as handle:
        classifier = pickle.load(handle)
    folder = Dataset.get(
        dataset_project=dataset_project, dataset_name=dataset_name
    ).get_local_copy()
    frame = pd.concat(
        [pd.read_csv(part) for part in sorted(glob.glob(os.path.join(folder, "*.csv")))],
        ignore_index=True,
    )
    score = classifier.score(frame.drop(columns=["target"]), frame["target"])
    return float(score), model.id


@PipelineDecorator.pipeline(name="evaluate iris model", project="dataset_examples", version="1.0")
def pipeline(
    dataset_project: str = "dataset_examples",
    dataset_name: str = "iris",
    model_name: str = "iris classifier",
):
    accuracy, model_id = evaluate(dataset_project, dataset_name, model_name)
    print(f"model {model_id}: accuracy {accuracy:.3f} on the whole dataset")
    return accuracy


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
