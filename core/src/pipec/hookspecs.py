"""The plugin contract: hooks a pipec plugin may implement (pluggy project `pipec`).

A plugin is any module or object with `@hookimpl` functions, registered through
the `pipec` entry-point group. The built-in targets are plugins like any other.
"""

from __future__ import annotations

import pluggy

from pipec.contract import Serializer, Target
from pipec.records import RunRecord

hookspec = pluggy.HookspecMarker("pipec")
hookimpl = pluggy.HookimplMarker("pipec")


@hookspec
def pipec_targets() -> list[Target]:
    """Targets (engines or output formats) this plugin contributes."""


@hookspec
def pipec_serializers() -> list[Serializer]:
    """Serializers this plugin contributes (each value goes to the best one accepting it)."""


@hookspec
def pipec_step_event(store: str, pipeline: str, run_id: str, step: str, event: str) -> None:
    """A step changed status (`running`, `completed`, `cached`, `failed`, `aborted`,
    `skipped`) or is `retrying`. Its record is at `runs/<pipeline>/<run_id>/steps/<step>`
    in the store; reported metrics, artifacts and models are in it."""


@hookspec
def pipec_run_event(store: str, record: RunRecord, event: str) -> str | None:
    """A run `started` or finished (`completed`, `failed`, `aborted`); the record holds the
    pipeline-level metrics, artifacts and models that `monitor_*` forwarded, and its steps'
    records are in `store` (`pipec.adapter.read_run`).

    An observer never fails a run: what it could not do (a tracker that is down) it
    returns as one line, which the run record keeps in `observer_notes`."""
