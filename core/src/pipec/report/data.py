"""What a run page shows, read from the store alone: the run's records, its graph, each
attempt's console and previews of small values.

Everything comes from the files every target writes (`pipec.runtime.runstore`), so a
page of an Airflow or Prefect run is made the same way as one of a local run.
"""

from __future__ import annotations

import base64
import mimetypes
import posixpath
import pprint
from dataclasses import dataclass, field

from pipec.ir import Pipeline, Step
from pipec.records import RunRecord, StepRecord, StoredValue
from pipec.runtime import runstore
from pipec.runtime.runstore import RunFiles, find_run
from pipec.store import StorageError, Store

PREVIEW_BYTES = 256 * 1024
"""Values up to this size are loaded for a preview (only by the serializers that run no
code: JSON, numpy without pickles, Parquet); pickles are never loaded by a page."""

PREVIEW_CHARS = 4000
"""A preview's text is cut here."""

EMBED_BYTES = 2 * 1024 * 1024
"""An image or media file up to this size is embedded in the page as a data URI."""

PAGE_EMBED_BYTES = 16 * 1024 * 1024
"""All embedded files of one page together stay under this; later ones become links."""

CONSOLE_CHARS = 256 * 1024
"""The page shows at most the last this many characters of an attempt's console."""

_PREVIEWED = frozenset({"json", "numpy", "pandas"})


class RunNotFound(LookupError):
    """No run of that id in the store."""


@dataclass
class RunData:
    """One run as its page shows it."""

    store: Store
    record: RunRecord
    steps: list[StepRecord]
    pipeline: Pipeline | None
    """The IR the run executed, with every step the run added (None if it is missing)."""
    consoles: dict[tuple[str, int], str] = field(default_factory=dict)
    """(step, attempt number) → what that attempt printed."""
    embedded: int = 0
    """Bytes embedded in the page so far (against `PAGE_EMBED_BYTES`)."""

    def step_spec(self, name: str) -> Step | None:
        if self.pipeline is None:
            return None
        return next((s for s in self.pipeline.steps if s.name == name), None)

    def data_uri(self, stored: StoredValue | None) -> str | None:
        """The file as a data URI, when it is small enough for the page; else None."""
        if stored is None or stored.size > EMBED_BYTES:
            return None
        if self.embedded + stored.size > PAGE_EMBED_BYTES:
            return None
        try:
            data = self.store.read_bytes(stored.uri)
        except (OSError, StorageError):
            return None
        self.embedded += len(data)
        mime = mimetypes.guess_type(posixpath.basename(stored.uri))[0]
        return f"data:{mime or 'application/octet-stream'};base64,{base64.b64encode(data).decode()}"

    def preview(self, stored: StoredValue) -> str | None:
        """A short text of a small value, or None when it is not previewed."""
        if stored.serializer not in _PREVIEWED or stored.size > PREVIEW_BYTES:
            return None
        try:
            value = self.store.get_value(stored)
        except Exception:  # a missing file or library: the page shows the URI only
            return None
        text = value if isinstance(value, str) else pprint.pformat(value, width=100)
        if stored.serializer == "pandas":
            text = value.to_string(max_rows=20, max_cols=12)
        return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "\n…"


def read_run(store: Store, run_id: str) -> RunData:
    """A run and what its page needs, or RunNotFound."""
    found = find_run(store, run_id)
    if found is None:
        raise RunNotFound(f"no run {run_id!r} in {store.url}")
    record, steps = found
    data = RunData(store, record, steps, _pipeline(store, record))
    for step in steps:
        for attempt in step.attempts:
            text = console_text(store, record.pipeline, record.run_id, step.name, attempt.number)
            if text is not None:
                data.consoles[(step.name, attempt.number)] = text
    return data


def _pipeline(store: Store, record: RunRecord) -> Pipeline | None:
    """The run's IR with the specs of steps it added while running (live logic)."""
    files = RunFiles(record.pipeline, record.run_id)
    if not store.exists(files.ir):
        return None
    pipeline = store.read_model(files.ir, Pipeline)
    known = {step.name for step in pipeline.steps}
    added = [
        store.read_model(files.step_spec(name), Step)
        for name in record.steps
        if name not in known and store.exists(files.step_spec(name))
    ]
    return pipeline.model_copy(update={"steps": [*pipeline.steps, *added]})


def console_text(store: Store, pipeline: str, run_id: str, step: str, attempt: int) -> str | None:
    """What an attempt printed (the last `CONSOLE_CHARS` of it), or None when nothing was
    kept."""
    text = runstore.console_text(store, pipeline, run_id, step, attempt)
    if text is None:
        return None
    return text if len(text) <= CONSOLE_CHARS else "…\n" + text[-CONSOLE_CHARS:]
