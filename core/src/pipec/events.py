"""Run and step events, delivered to plugins through the `pipec` hooks.

Observers (loggers, trackers, notifiers) implement `pipec_step_event` /
`pipec_run_event`; the runtime calls these at every status change, on every
target, so a plugin sees a local run and an Airflow run the same way.

Internal: observers implement the hooks of `pipec.hookspecs`.
"""

from __future__ import annotations

from pipec.plugins import plugin_manager
from pipec.records import RunRecord


def step_event(store: str, pipeline: str, run_id: str, step: str, event: str) -> None:
    """`event` is the new status (running, completed, cached, failed, ...) or `retrying`."""
    plugin_manager().hook.pipec_step_event(
        store=store, pipeline=pipeline, run_id=run_id, step=step, event=event
    )


def run_event(store: str, record: RunRecord, event: str) -> list[str]:
    """What the observers could not do, one line each (see `pipec_run_event`)."""
    notes = plugin_manager().hook.pipec_run_event(store=store, record=record, event=event)
    return [note for note in notes if note]
