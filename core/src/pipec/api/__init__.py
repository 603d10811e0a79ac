"""ClearML's API, for pipeline authors: the facade on top of pipec.

Same names, parameters and defaults as ClearML's own classes, so that a ClearML
pipeline changes its import line and nothing else. Everything here is built on
`pipec.capture` (turning pipelines into IR) and `pipec.runtime` (running IR).
"""

from pipec.api.controller import PipelineController
from pipec.api.dataset import Dataset
from pipec.api.decorator import PipelineDecorator
from pipec.api.model import InputModel, Model, OutputModel
from pipec.api.storage_manager import StorageManager
from pipec.api.task import Logger, Task, TaskTypes

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
]
