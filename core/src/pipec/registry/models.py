"""ClearML's model registry without a server: each model a record in the artifact store.

A model is `models/<id>/model.json` (its `ModelRecord`) beside its weights, in
`models/<id>/<upload>/<file>`. The weights of an update are written before the record
that points at them, each under a folder of its own, so a reader never sees a record
whose weights are missing or half written; the weights a record no longer points at go
after it is written. An id, once given, names the same model for good: updating its
weights, design or labels, or publishing it, rewrites its record under the same id.

Every target reads and writes the same folders, so a model a step on a laptop
published is found by an Airflow or Prefect worker that shares the store.

Internal: pipeline code uses `pipec.OutputModel`, `InputModel` and `Model`.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from pipec.records import StoredValue
from pipec.store import Store

FOLDER = "models"


class ModelRecord(BaseModel):
    """What ClearML's server keeps of a model, kept in the store instead."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    project: str | None = None
    framework: str | None = None
    tags: list[str] = Field(default_factory=list)
    comment: str | None = None
    config_text: str | None = None
    """The design, as text (ClearML's `config_text`); a `config_dict` is kept as JSON text."""
    config_dict: dict[str, JsonValue] | None = None
    """The design as given, when it was given as a dict (read back exactly)."""
    labels: dict[str, int] = Field(default_factory=dict)
    weights: StoredValue | None = None
    package: bool = False
    """The weights are a zip of a folder (`update_weights_package`)."""
    source: str | None = None
    """The URL the weights were imported from (`InputModel.import_model`)."""
    published: bool = False
    archived: bool = False
    """Left out of queries unless they ask for archived models too."""
    metadata: dict[str, dict[str, str]] = Field(default_factory=dict)
    """ClearML's metadata entries: key -> {"key", "value", "type"}, all text."""
    task: str | None = None
    """Id of the task (pipeline step) that created the model."""
    iteration: int | None = None
    created: float
    updated: float

    @property
    def url(self) -> str | None:
        return self.weights.uri if self.weights is not None else None


class ModelNotFoundError(LookupError, ValueError):
    """No model of that id in the store (the message says which store); a ValueError
    as well, which is what ClearML raises for an unknown model id."""


def new_id() -> str:
    """A fresh model id: 32 hex digits, as ClearML's."""
    return uuid.uuid4().hex


def _record_path(model_id: str) -> str:
    return f"{FOLDER}/{model_id}/model.json"


def new_record(model_id: str, name: str, **fields: object) -> ModelRecord:
    now = time.time()
    return ModelRecord(id=model_id, name=name, created=now, updated=now, **fields)  # type: ignore[arg-type]


def put_weights(store: Store, model_id: str, path: str, filename: str | None = None) -> StoredValue:
    """A local file (or a folder, zipped) as the next weights of a model, stored under a
    folder of its own so the weights the current record points at stay intact."""
    return store.put_file(f"{FOLDER}/{model_id}/{secrets.token_hex(6)}", path, name=filename)


def write(store: Store, record: ModelRecord, replaced: ModelRecord | None = None) -> ModelRecord:
    """Write a model's record (atomically), then drop the weights `replaced` pointed at
    that the new record does not."""
    record.updated = time.time()
    store.write_model(_record_path(record.id), record)
    old = replaced.weights if replaced is not None else None
    own = store.uri(f"{FOLDER}/{record.id}")
    if old is None or (record.weights is not None and old.uri == record.weights.uri):
        return record
    if old.uri.startswith(own):  # weights kept elsewhere (`upload_uri`) stay where they are
        upload = old.uri[len(own) :].replace("\\", "/").strip("/").split("/")[0]
        store.remove(f"{FOLDER}/{record.id}/{upload}")
    return record


def read(store: Store, model_id: str) -> ModelRecord:
    path = _record_path(model_id)
    if not model_id or "/" in model_id or not store.exists(path):
        raise ModelNotFoundError(f"no model with id {model_id!r} in storage {store.url}")
    return store.read_model(path, ModelRecord)


def remove(store: Store, model_id: str) -> None:
    store.remove(f"{FOLDER}/{model_id}")


def all_models(store: Store) -> list[ModelRecord]:
    """Every model in the store, newest first (by creation; the id breaks ties)."""
    found = []
    for model_id in store.listdir(FOLDER):
        try:
            found.append(read(store, model_id))
        except ModelNotFoundError:  # an upload whose record is not written (yet)
            continue
    return sorted(found, key=lambda m: (m.created, m.id), reverse=True)


def tags_match(have: Sequence[str], wanted: Sequence[str]) -> bool:
    """ClearML's default tag filter: any of the tags, none of the `-tag`s."""
    include = [t for t in wanted if not t.startswith("-")]
    exclude = [t[1:] for t in wanted if t.startswith("-")]
    return (not include or any(t in have for t in include)) and not any(t in have for t in exclude)


def query(
    store: Store,
    project: str | None = None,
    name: str | None = None,
    tags: Sequence[str] | None = None,
    only_published: bool = False,
    max_results: int | None = None,
    include_archived: bool = False,
    metadata: dict[str, str] | None = None,
) -> list[ModelRecord]:
    """Models by project, exact name, tags (ClearML's OR of tags, `-tag` excludes) and
    metadata values, newest first."""
    found = [
        m
        for m in all_models(store)
        if (project is None or m.project == project)
        and (name is None or m.name == name)
        and (not tags or tags_match(m.tags, tags))
        and (m.published or not only_published)
        and (include_archived or not m.archived)
        and all(m.metadata.get(k, {}).get("value") == str(v) for k, v in (metadata or {}).items())
    ]
    return found if max_results is None else found[:max_results]
