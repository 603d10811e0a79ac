"""pipec: ClearML's pipeline API, compiled for Airflow 3, Prefect 3 or local runs.

Migrating from ClearML is a change of import lines: `from clearml import
PipelineDecorator` becomes `from pipec import PipelineDecorator`.
"""

from pipec._version import __version__
from pipec.api import (
    Dataset,
    InputModel,
    Logger,
    Model,
    OutputModel,
    PipelineController,
    PipelineDecorator,
    StorageManager,
    Task,
    TaskTypes,
)

__all__ = [
    "Dataset",
    "InputModel",
    "Logger",
    "Model",
    "OutputModel",
    "PipelineController",
    "PipelineDecorator",
    "StorageManager",
    "Task",
    "TaskTypes",
    "__version__",
]
