"""What a conformance case is: a pipeline file, how to run it, and what must happen.

Expectations are written by hand from ClearML's semantics, never recorded from a
run, so a target that behaves differently fails the case instead of redefining it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

PIPELINES = Path(__file__).resolve().parent / "pipelines"
"""The case pipelines, shipped with pipec so any adapter's tests can run them."""

ExpectedStatus = Literal["completed", "cached", "failed", "aborted", "skipped", "stopped"]
"""A step's status; `stopped` is caught by a pipeline stop (`abort_on_failure`): aborted
if it was running when the failing step failed, skipped if it had not started. A target
that runs one step at a time in an order of its own (Airflow's `dag.test()`) may have run
it to the end before the failing step started: then it is completed, and the check makes
sure it ended before any failed step began. The case cannot fix which of these happens."""


class _NotChecked:
    def __repr__(self) -> str:
        return "NOT_CHECKED"


NOT_CHECKED: Any = _NotChecked()
"""The default of expectations a case leaves open."""


@dataclass(frozen=True)
class StepExpect:
    """One step's expected outcome."""

    status: ExpectedStatus
    attempts: int | None = None
    """Defaults to what the status implies: 1 if it ran, 0 if skipped or cached."""
    error: str | None = None
    """Text the step's error must contain."""
    outputs: Mapping[str, Any] | None = None
    """Return values by name, read from the store."""
    console: Sequence[str] | None = None
    """Lines the step's console must hold, in this order, other lines between them allowed
    (`pipec runs logs RUN STEP`: what it printed on stdout and stderr, then its traceback)."""

    def expected_attempts(self, started: bool) -> int:
        if self.attempts is not None:
            return self.attempts
        if self.status == "stopped":
            return 1 if started else 0
        return 0 if self.status in ("cached", "skipped") else 1


@dataclass(frozen=True)
class Expected:
    """The outcome of one `pipec run`."""

    status: Literal["completed", "failed", "aborted"]
    steps: Mapping[str, StepExpect | ExpectedStatus]
    """Every step of the run, and only those (a bare status is `StepExpect(status)`)."""
    bodies: Sequence[str] = ()
    """Lines the step bodies logged with `observe.body`, in any order (steps run in
    parallel on some targets); each executed attempt logs one, labelled with its step's
    name. Those of a `stopped` step that completed (ran before the failure) are not
    compared."""
    events: Sequence[str] = ()
    """Every other logged line (callbacks), in this exact order."""
    return_value: Any = NOT_CHECKED
    """The pipeline's return value; None means it returned nothing."""
    metrics: Mapping[tuple[str, str], float] | None = None
    """Pipeline-level scalars forwarded by `monitor_metrics`: (title, series) -> value."""
    artifacts: Mapping[str, Any] | None = None
    """Pipeline-level artifacts forwarded by `monitor_artifacts`: name -> value."""
    error: str | None = None
    """Text the run's error (the `--json` summary's `error`) must contain."""

    def step(self, name: str) -> StepExpect:
        spec = self.steps[name]
        return spec if isinstance(spec, StepExpect) else StepExpect(status=spec)

    @property
    def needs_record(self) -> bool:
        """Whether checking needs the run record (`pipec runs show`), not just the summary."""
        wants_outputs = any(
            self.step(name).outputs is not None or self.step(name).console is not None
            for name in self.steps
        )
        stops = any(self.step(name).status == "stopped" for name in self.steps)  # their times
        return wants_outputs or stops or self.metrics is not None or self.artifacts is not None


@dataclass(frozen=True)
class Run:
    """One `pipec run` of a case; the runs of a case share one store, in order."""

    expected: Expected
    params: Mapping[str, Any] = field(default_factory=dict)
    """`--param NAME=VALUE`: strings are passed as is, anything else as JSON."""
    refresh: Sequence[str] = ()
    """`--refresh STEP` for each."""


@dataclass(frozen=True)
class Case:
    """A pipeline file and what each of its runs must give."""

    id: str
    pipeline: str
    """File name under `PIPELINES`."""
    runs: Sequence[Run]
    about: str
    needs: frozenset[str] = frozenset()
    """Target capabilities (see `pipec.validate.FEATURES`) the pipeline uses."""

    @property
    def path(self) -> Path:
        return PIPELINES / self.pipeline
