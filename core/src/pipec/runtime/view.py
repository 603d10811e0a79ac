"""ClearML's controller view of a run: what callbacks get as `pipeline`.

`pipeline.id`, `get_pipeline_dag()`, `get_running_nodes()` and `get_processed_nodes()`
answer the same way whether the run is scheduled here (`pipec.runtime.local`, from its
nodes in memory) or by an engine (`RunView`, from the records in the store, since the
controller of an engine run is no one object).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from pipec.records import FINISHED, SUCCEEDED
from pipec.runtime.node import Node
from pipec.runtime.runstore import StoredRun


class ControllerView(ABC):
    """The part of ClearML's `PipelineController` that shows a running pipeline."""

    @property
    @abstractmethod
    def id(self) -> str:
        """The run's id."""

    @abstractmethod
    def get_pipeline_dag(self) -> dict[str, Node]:
        """Every step of the run by name, with its current status."""

    def get_running_nodes(self) -> list[str]:
        return [n for n, node in self.get_pipeline_dag().items() if node.status == "running"]

    def get_processed_nodes(self) -> list[str]:
        return [n for n, node in self.get_pipeline_dag().items() if node.status in FINISHED]


class RunView(ControllerView):
    """The controller view of a run an engine schedules, read from the store."""

    def __init__(self, run: StoredRun) -> None:
        self.run = run

    @property
    def id(self) -> str:
        return self.run.run_id

    def get_pipeline_dag(self) -> dict[str, Node]:
        nodes = {}
        for step in self.run.pipeline.steps:
            node = Node.of(step)
            try:
                record = self.run.step_record(step.name)
            except LookupError:
                pass
            else:
                node.status = record.status
                node.executed = record.id if record.status in SUCCEEDED else None
            nodes[step.name] = node
        return nodes
