"""Run and step events, delivered to plugins through the `pipec` hooks.

Observers (loggers, trackers, notifiers) implement `pipec_step_event` /
`pipec_run_event`; the runtime calls these at every status change, on every
target, so a plugin sees a local run and an Airflow run the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipec.plugins import plugin_manager

if TYPE_CHECKING:
    from pipec.records import RunRecord
    from pipec.runtime.context import StoredRun


def step_event(run: StoredRun, step: str, event: str) -> None:
    """`event` is the new status (running, completed, cached, failed, ...) or `retrying`."""
    plugin_manager().hook.pipec_step_event(
        store=run.store.url, pipeline=run.pipeline.name, run_id=run.run_id, step=step, event=event
    )


def run_event(record: RunRecord, event: str) -> None:
    plugin_manager().hook.pipec_run_event(record=record, event=event)
