"""pipec-mlflow: pipec runs in MLflow, for ClearML users who keep their experiments there.

A pipeline run becomes an MLflow run and each of its steps a nested run, logged from
the run's records when the run ends (`pipec_mlflow.hooks`, `pipec_mlflow.tracking`).
"""
