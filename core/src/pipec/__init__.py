"""pipec: ClearML's pipeline API, compiled for Airflow 3, Prefect 3 or local runs.

Migrating from ClearML is a change of import lines: `from clearml import
PipelineDecorator` becomes `from pipec import PipelineDecorator`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pipec")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

from pipec.capture.controller import PipelineController
from pipec.capture.decorator import PipelineDecorator
from pipec.storage import StorageManager
from pipec.task import Logger, Task, TaskTypes

__all__ = [
    "Logger",
    "PipelineController",
    "PipelineDecorator",
    "StorageManager",
    "Task",
    "TaskTypes",
    "__version__",
]
