"""The plugin contract: the types a target or serializer plugin implements or receives.

Plain types with no behaviour that needs the runtime, so the hook specifications
(`pipec.hookspecs`), the plugin registry and the runtime all import them from here.
Adapter authors reach them through `pipec.adapter`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pipec.ir import Pipeline
from pipec.records import RunRecord

FEATURES: dict[str, str] = {
    "retry_callable": "retry_on_failure given as a callable",
    "pre_execute_callback": "pre_execute_callback",
    "post_execute_callback": "post_execute_callback",
    "status_change_callback": "status_change_callback",
    "task_factory": "base_task_factory",
    "loop": "loop_condition / loop_body",
    "deferred_values": "values computed from step outputs in the pipeline logic",
    "task_steps": "steps from task scripts (add_step)",
    "docker": "docker / docker_args / docker_bash_setup_script",
    "repo": "repo / repo_branch / repo_commit",
    "dynamic": "pipeline logic that decides which steps run from step values",
    "step_task_created_callback": "step_task_created_callback",
    "step_task_completed_callback": "step_task_completed_callback",
}
"""The optional features a target may declare in `Target.capabilities`; a pipeline using
one its target lacks is refused before anything is written or run (`pipec.validate`)."""


@dataclass
class RunOptions:
    """What `pipec run` and the ClearML start methods pass down to a target."""

    target: str = "local"
    storage: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    refresh: frozenset[str] | bool = frozenset()
    max_workers: int | None = None
    quiet: bool = False
    """Machine-readable output wanted: step output and progress go to stderr only."""
    target_options: dict[str, str] = field(default_factory=dict)
    """`--option KEY=VALUE` pairs for a target that compiles before it runs."""
    resume_from: str | None = None
    """`pipec runs resume`: the id of a run (of the same pipeline, in the same store) whose
    succeeded steps this run reuses instead of running them (the `debug` / `local` targets)."""


@dataclass
class RunResult:
    """A finished run: its record, the `--json` summary, and the pipeline's return value."""

    record: RunRecord
    summary: dict[str, Any]
    value: Any = None

    @property
    def succeeded(self) -> bool:
        return self.record.status == "completed"


@dataclass
class Logic:
    """The live pipeline logic, for targets that run it on this machine."""

    controller: Any = None
    """The PipelineController, which callbacks receive as `pipeline`."""
    function: Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    failed_run: RunResult | None = None
    """Set by a target when the logic raised after its run began: that run, recorded failed."""


@runtime_checkable
class Target(Protocol):
    """An adapter: compiles a pipeline for one engine or format, and runs it.

    `capabilities` names the optional features it can express (`FEATURES`); the rest
    are rejected before compiling or running. `options` are the `--option KEY=VALUE`
    pairs of `pipec compile` (and of `pipec run`, which compiles first where a target
    does); a target refuses a key it does not know with a `UsageError`.
    """

    name: str
    description: str
    capabilities: frozenset[str]

    def compile(
        self, pipeline: Pipeline, out_dir: Path, options: dict[str, str] | None = None
    ) -> list[Path]:
        """Write the compiled artifact(s) into `out_dir` and return their paths."""
        ...

    def run(self, pipeline: Pipeline, options: RunOptions, logic: Logic) -> RunResult:
        """Run the pipeline to the end. `logic` holds the live pipeline objects when the
        pipeline was started from Python; targets that run from the IR alone ignore it."""
        ...


STORE_FORMATS = frozenset({"file", "folder", "custom"})
"""What the store writes itself (files, folders, user functions): no serializer may take
these names."""


class Unsupported(Exception):
    """Raised by `Serializer.dumps` when it cannot represent this particular value exactly.

    The store then tries the next serializer that accepts the value, so a
    serializer may refuse after trying instead of writing a lossy copy.
    """


class Serializer(Protocol):
    """How values of some types become bytes in the store (the `pipec_serializers` hook)."""

    name: str
    """Recorded in `StoredValue.serializer`: how to read the bytes back."""
    extension: str
    """Appended to the value's path, e.g. ".json"."""
    priority: int
    """Higher wins among the serializers that accept a value."""

    def accepts(self, obj: Any) -> bool: ...

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...
