"""A finished pipec run, read from its records, logged as MLflow runs.

The pipeline run becomes one MLflow run in the experiment named by
`$MLFLOW_EXPERIMENT_NAME` (default: the pipeline's project, else its name), each step
a run nested under it. Logging happens once, when the run ends, from the records in
the store: every target ends a run exactly once, in one process, with every step's
record written (pipec's own process on `local`, the flow-run process on Prefect, the
last task on Airflow), so no step process has to find the parent run and each nested
run is logged whole. The tracking URI is MLflow's own: `$MLFLOW_TRACKING_URI`, else
MLflow's default.

Nothing here raises into the run: `log_run` returns what it could not log.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import posixpath
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from pipec.adapter import Report, RunRecord, StepRecord, Store, StoredValue, read_run
from pipec.ir import ArtifactRef, OutputRef, Pipeline

PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"

PROBE_TIMEOUT = 5.0
"""Seconds to wait for a tracking server before calling it down: MLflow's own client
retries for minutes, too long to hold a finished pipeline for a tracker that is away."""

# MLflow's limits (mlflow.utils.validation): values longer than these are refused
_PARAM_LENGTH = 6000
_TAG_LENGTH = 8000
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000

_STATUS = {"completed": "FINISHED", "cached": "FINISHED", "failed": "FAILED"}
"""pipec statuses as MLflow run statuses; any other (aborted, skipped, never ended) is
KILLED, MLflow's status for a run that was stopped or never ran."""

_REPORT_FOLDERS = {"table": "tables", "image": "images", "media": "media"}
"""Where each kind of report goes among a run's artifacts; plots go to `plots`."""

T = TypeVar("T")


def experiment_name(pipeline: Pipeline) -> str:
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or pipeline.project or pipeline.name


def log_run(store: str, record: RunRecord) -> str | None:
    """Log run `record` (finished) to MLflow; None when all of it was logged, else one
    line saying what was not."""
    uri = mlflow.get_tracking_uri()
    down = unreachable(uri)
    if down is not None:
        return f"mlflow: run not logged, tracking server {uri} is unreachable ({down})"
    try:
        pipeline, steps = read_run(store, record)
        client = MlflowClient(uri)
        tracker = _RunLogger(client, Store(store))
        parent = tracker.start_pipeline(pipeline, record)
    except Exception as exc:
        return f"mlflow: run not logged to {uri}: {reason(exc)}"
    missed = []
    for i, step in enumerate(steps):
        try:
            tracker.log_step(pipeline, record, step, parent)
        except Exception as exc:
            missed.append(f"step {step.name!r} ({reason(exc)})")
            down = unreachable(uri)
            if down is not None:
                rest = ", ".join(repr(s.name) for s in steps[i + 1 :])
                missed.append(f"the tracking server went away ({down})")
                if rest:
                    missed.append(f"steps {rest}")
                break
    try:
        tracker.finish_pipeline(record, steps, parent)
    except Exception as exc:
        missed.append(f"the pipeline run's results and status ({reason(exc)})")
    if missed:
        return f"mlflow: not all logged to {uri} (run {parent}); not logged: {'; '.join(missed)}"
    where = f"{uri.rstrip('/')}/#/experiments/{tracker.experiment_id}/runs/{parent}"
    shown = where if uri.startswith(("http://", "https://")) else f"{uri} as run {parent}"
    print(f"pipec-mlflow: run {record.run_id} logged to MLflow: {shown}", file=sys.stderr)
    return None


def unreachable(uri: str) -> str | None:
    """Why the tracking server at an http(s) `uri` does not answer, or None (any HTTP
    answer counts; URIs of other schemes are local stores, checked by using them)."""
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT):
            return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError) as exc:
        return reason(getattr(exc, "reason", exc))


def reason(exc: BaseException | str) -> str:
    """An error as one line (MLflow's messages may run over many, or carry a page of
    HTML), long enough to keep MLflow's advice."""
    text = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
    first = text.strip().splitlines()[0] if text.strip() else text
    return _clip(first, 1000)


class _RunLogger:
    """The MLflow calls for one pipec run, through one client (never MLflow's fluent,
    process-wide active run, which the user's own code may be using)."""

    def __init__(self, client: MlflowClient, store: Store) -> None:
        self.client = client
        self.store = store
        self.experiment_id = ""

    # -------------------------------------------------------------- the pipeline's run

    def start_pipeline(self, pipeline: Pipeline, record: RunRecord) -> str:
        self.experiment_id = self._experiment(experiment_name(pipeline))
        tags = {
            "pipec.pipeline": pipeline.name,
            "pipec.version": pipeline.version or "",
            "pipec.target": record.target,
            "pipec.run_id": record.run_id,
        }
        if pipeline.project:
            tags["pipec.project"] = pipeline.project
        run = self.client.create_run(
            self.experiment_id, start_time=_ms(record.started), tags=tags, run_name=pipeline.name
        )
        run_id = run.info.run_id
        self._log_batch(run_id, params=_params(record.parameters))
        return run_id

    def finish_pipeline(self, record: RunRecord, steps: list[StepRecord], run_id: str) -> None:
        """The pipeline-level results (what `monitor_*` forwarded, the controller's own
        reports and uploads, a numeric return value) and the run's final status."""
        ended = record.ended or record.started
        metrics = _metrics(record.metrics, ended)
        returned = self._number(record.return_value)
        if returned is not None:
            metrics.append(Metric("return_value", returned, _ms(ended), 0))
        tags = _status_tags(record.status, record.error, record.tags)
        self._log_batch(run_id, metrics=metrics, tags=tags)
        self._log_reports(run_id, [r for r in record.metrics if r.kind != "scalar"])
        # forwarded artifacts and models are logged with the step that made them
        from_steps = {v.uri for s in steps for v in (*s.artifacts.values(), *s.models.values())}
        for folder, values in (("artifacts", record.artifacts), ("models", record.models)):
            for name, stored in values.items():
                if stored.uri not in from_steps:
                    self._log_file(run_id, stored, f"{folder}/{_segment(name)}")
        self._terminate(run_id, record.status, ended)

    # -------------------------------------------------------------- one step's run

    def log_step(
        self, pipeline: Pipeline, record: RunRecord, step: StepRecord, parent: str
    ) -> None:
        started = step.started or (step.attempts[0].started if step.attempts else None)
        started = started or record.ended or record.started
        ended = step.ended or started
        tags = {
            PARENT_TAG: parent,
            "pipec.pipeline": pipeline.name,
            "pipec.run_id": record.run_id,
            "pipec.step": step.name,
            "pipec.step_id": step.id,
            "pipec.attempts": str(len(step.attempts)),
        }
        if step.cached_from:
            tags["pipec.cached_from"] = step.cached_from
        if step.status_reason:
            tags["pipec.status_reason"] = step.status_reason
        if step.status_message:
            tags["pipec.status_message"] = step.status_message
        run = self.client.create_run(
            self.experiment_id,
            start_time=_ms(started),
            tags=tags,
            run_name=step.task_name or step.name,
        )
        run_id = run.info.run_id
        metrics = _metrics(step.reports, ended)
        for name, stored in step.outputs.items():
            value = self._number(stored)
            if value is not None:  # a numeric result, as `accuracy` of a scoring step
                metrics.append(Metric(_key(name), value, _ms(ended), 0))
        self._log_batch(
            run_id,
            params=_params(_step_parameters(pipeline, step)),
            metrics=metrics,
            tags=_status_tags(step.status, step.error, step.tags),
        )
        self._log_reports(run_id, step.reports)
        for name, configuration in step.configurations.items():
            where = f"configurations/{_segment(name)}"
            if configuration.text is not None:
                self.client.log_text(run_id, configuration.text, f"{where}.txt")
            else:
                self.client.log_dict(run_id, configuration.value, f"{where}.json")  # type: ignore[arg-type]
        for name, stored in step.artifacts.items():
            self._log_file(run_id, stored, f"artifacts/{_segment(name)}")
        for name, stored in step.models.items():
            self._log_file(run_id, stored, f"models/{_segment(name)}")
        registered = {stored.uri: name for name, stored in step.monitored.models.items()}
        for name, stored in step.models.items():
            if stored.uri in registered:
                self._register(registered[stored.uri], run, f"models/{_segment(name)}")
        self._terminate(run_id, step.status, ended)

    # -------------------------------------------------------------- pieces

    def _terminate(self, run_id: str, status: str, ended: float) -> None:
        """End a run with pipec's status and time; MLflow's client prints links to each
        run it ends on stdout, which belongs to the pipeline (`pipec run --json`): the
        one line `log_run` prints says where the run is."""
        with contextlib.redirect_stdout(io.StringIO()):
            self.client.set_terminated(run_id, _run_status(status), end_time=_ms(ended))

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(name)
        except MlflowException as exc:  # another run created it meanwhile
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise exc from None
            return found.experiment_id

    def _log_batch(
        self,
        run_id: str,
        *,
        params: Sequence[Param] = (),
        metrics: Sequence[Metric] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """MLflow takes at most 100 params and tags and 1000 metrics per call."""
        for chunk in _chunks([*params], _PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=chunk)
        for chunk in _chunks([*tags], _PARAMS_PER_BATCH):
            self.client.log_batch(run_id, tags=chunk)
        for chunk in _chunks([*metrics], _METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=chunk)

    def _log_reports(self, run_id: str, reports: list[Report]) -> None:
        """Texts as one `text.txt`; tables, images, media and plots as files under their
        kind's folder, `<title>/<series>/[<iteration>-]<name>` (one per iteration, as
        ClearML keeps one debug sample per iteration); reports that are only a URL in
        `links.json`."""
        texts = [r.text for r in reports if r.kind == "text" and r.text is not None]
        if texts:
            self.client.log_text(run_id, "\n".join(texts) + "\n", "text.txt")
        links = []
        for report in reports:
            if report.kind in ("scalar", "text"):
                continue
            folder = "/".join(
                [
                    _REPORT_FOLDERS.get(report.kind, "plots"),
                    _segment(report.title or report.kind),
                    _segment(report.series or report.kind),
                ]
            )
            prefix = "" if report.iteration is None else f"{report.iteration}-"
            if report.table is not None:
                self.client.log_dict(run_id, report.table, f"{folder}/{prefix}table.json")  # type: ignore[arg-type]
            elif report.kind == "table" and report.text is not None:  # reported as CSV text
                self.client.log_text(run_id, report.text, f"{folder}/{prefix}table.csv")
            if report.data is not None:
                self.client.log_dict(run_id, report.data, f"{folder}/{prefix}data.json")  # type: ignore[arg-type]
            if report.file is not None:
                name = prefix + posixpath.basename(report.file.uri)
                self._log_as(run_id, self.store.local_path(report.file), folder, name)
            elif report.uri and report.table is None and report.data is None:
                shown = {"kind", "title", "series", "iteration", "uri"}
                links.append(report.model_dump(include=shown))
        if links:
            self.client.log_dict(run_id, links, "links.json")  # type: ignore[arg-type]

    def _log_file(self, run_id: str, stored: StoredValue, folder: str) -> None:
        """A stored artifact or model as it is in the store (a folder as its zip)."""
        self.client.log_artifact(run_id, self.store.local_path(stored), folder)

    def _log_as(self, run_id: str, path: str, folder: str, name: str) -> None:
        """A local file logged under `folder` as `name` (MLflow keeps a file's own name)."""
        if os.path.basename(path) == name:
            self.client.log_artifact(run_id, path, folder)
            return
        with tempfile.TemporaryDirectory(prefix="pipec-mlflow-") as scratch:
            renamed = os.path.join(scratch, name)
            shutil.copyfile(path, renamed)
            self.client.log_artifact(run_id, renamed, folder)

    def _register(self, name: str, run: Any, artifact_path: str) -> None:
        """A version of registered model `name` (created on first use) from a model the
        step logged, as `monitor_models` selected it."""
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        source = f"{run.info.artifact_uri.rstrip('/')}/{artifact_path}"
        self.client.create_model_version(name, source, run_id=run.info.run_id)

    def _number(self, stored: StoredValue | None) -> float | None:
        """A stored value that is a plain JSON number (never unpickled here), else None."""
        if stored is None or stored.serializer != "json":
            return None
        if stored.type_name not in ("builtins.int", "builtins.float"):
            return None
        value = self.store.get_value(stored)
        return float(value) if math.isfinite(value) else None


# -------------------------------------------------------------- records as MLflow values


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _run_status(status: str) -> str:
    return _STATUS.get(status, "KILLED")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _params(values: dict[str, Any]) -> list[Param]:
    """Parameters as MLflow params: strings as they are, other JSON values as JSON."""
    return [Param(_key(k), _clip(_text(v), _PARAM_LENGTH)) for k, v in values.items()]


def _step_parameters(pipeline: Pipeline, step: StepRecord) -> dict[str, Any]:
    """A step's inputs as its record has them; an input that is another step's value
    (not JSON, so None there) as ClearML shows it, `${step.name}`."""
    shown = dict(step.parameters)
    spec = next((s for s in pipeline.steps if s.name == step.name), None)
    for name, value in spec.inputs.items() if spec is not None else ():
        if shown.get(name) is None and isinstance(value, (OutputRef, ArtifactRef)):
            shown[name] = _reference(value)
    return shown


def _reference(ref: OutputRef | ArtifactRef) -> str:
    if isinstance(ref, OutputRef):
        return f"${{{ref.step}.{ref.name}}}"
    attr = f".{ref.attr}" if ref.attr else ""
    return f"${{{ref.step}.artifacts.{ref.name}{attr}}}"


def _metrics(reports: list[Report], when: float) -> list[Metric]:
    """Reported scalars as metrics `title/series`, their iteration as MLflow's `step`."""
    return [
        Metric(_key(f"{r.title}/{r.series}"), r.value, _ms(when), r.iteration or 0)
        for r in reports
        if r.kind == "scalar" and r.value is not None
    ]


def _status_tags(status: str, error: str | None, tags: list[str]) -> list[RunTag]:
    found = [RunTag("pipec.status", status)]
    if error:
        found.append(RunTag("pipec.error", _clip(error, _TAG_LENGTH)))
    if tags:
        found.append(RunTag("pipec.tags", _clip(", ".join(tags), _TAG_LENGTH)))
    return found


_BAD_KEY = re.compile(r"[^/\w.\- ]")


def _key(name: str) -> str:
    """A name MLflow accepts as a param or metric key: its own characters (letters,
    digits, `_-. /`), others as `_`, and no empty, `.` or `..` path segment."""
    parts = [_BAD_KEY.sub("_", part) for part in name.split("/")]
    kept = [p if p not in (".", "..") else p.replace(".", "_") for p in parts if p]
    return "/".join(kept) or "_"


def _segment(name: str) -> str:
    """A name as one artifact path segment."""
    return _key(name).replace("/", "_")


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
