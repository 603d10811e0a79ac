"""ClearML's `Model`, `InputModel` and `OutputModel`, registered in the artifact store.

ClearML keeps models on its server and their weights in a files server or bucket;
pipec keeps both in the store the run writes to (`pipec.registry.models`), so a model a
step published is found by id, or by project, name and tags, from any step, pipeline
or machine that shares the store. Same names, parameters and defaults as ClearML's.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import fsspec

from pipec.errors import UsageError
from pipec.registry import models as registry
from pipec.registry.models import ModelRecord
from pipec.runtime import logic
from pipec.runtime.context import current_step
from pipec.store import Store


class Task(Protocol):
    """What a model needs of its task (`pipec.api.task.Task`, which builds on this module)."""

    @property
    def id(self) -> str: ...

    name: str | None
    project: str | None

    def _models_store(self) -> Store | None: ...

    def _add_model(
        self, direction: Literal["input", "output"], name: str, record: ModelRecord
    ) -> None: ...


def _no_task() -> Task | None:
    return None


current_task: Callable[[], Task | None] = _no_task
"""How `OutputModel()` without a task finds the current one: `pipec.api.task` sets it to
`Task.current_task` (that module imports this one, so this one cannot import it)."""


def current_store() -> Store:
    """The store of the step (or pipeline logic) running here, else the default store,
    as ClearML talks to the one server its configuration names."""
    ctx = current_step()
    if ctx is not None:
        return ctx.run.store
    live = logic.active_run()
    return live.run.store if live is not None else Store.resolve()


def _config_text(config_text: str | None, config_dict: Mapping[str, Any] | None) -> str | None:
    """ClearML takes one of the two; a dict is kept as JSON text (JSON is HOCON, the
    format ClearML writes designs in)."""
    if config_text is not None and config_dict is not None:
        raise ValueError("pass config_text or config_dict, not both")
    if config_dict is not None:
        if not isinstance(config_dict, Mapping):
            raise ValueError("Model configuration only supports dictionary or string objects")
        return json.dumps(config_dict, indent=2, sort_keys=True)
    if config_text is not None and not isinstance(config_text, str):
        raise ValueError("Model configuration only supports dictionary or string objects")
    return config_text


def _labels(labels: Mapping[str, int] | None) -> dict[str, int]:
    """A label enumeration: text labels to integer values, as ClearML checks them."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in labels.items()
    ):
        raise ValueError("label enumeration must map str labels to int values")
    return dict(labels)


def _no_tag_operators(call: str, tags: Sequence[str] | None) -> None:
    if tags and any(str(tag).startswith("__$") for tag in tags):
        raise UsageError(f"{call}: pipec filters by plain and '-' tags, not '__$' operators")


class BaseModel:
    """What every model shows: its registry record, read from the store."""

    def __init__(self, record: ModelRecord | None, store: Store) -> None:
        self._data = record
        self._store = store

    def _record(self) -> ModelRecord:
        if self._data is None:
            raise ValueError("the model has no weights yet: call update_weights first")
        return self._data

    @property
    def id(self) -> str:
        return self._record().id

    @property
    def name(self) -> str:
        return self._record().name

    @property
    def project(self) -> str | None:
        """The project's name (ClearML gives the project's id; pipec has no ids for them)."""
        return self._record().project

    @property
    def comment(self) -> str | None:
        return self._record().comment

    @property
    def tags(self) -> list[str]:
        return list(self._record().tags)

    @property
    def config_text(self) -> str | None:
        return self._record().config_text

    @property
    def config_dict(self) -> dict[str, Any]:
        record = self._record()
        if record.config_dict is not None:
            return dict(record.config_dict)
        if not record.config_text:
            return {}
        try:
            parsed = json.loads(record.config_text)
        except ValueError:
            raise ValueError(
                f"model {record.id}: its configuration text is not JSON, which is the one "
                "format pipec reads back as a dict (use config_text)"
            ) from None
        if not isinstance(parsed, dict):
            raise ValueError(f"model {record.id}: its configuration is not a dictionary")
        return parsed

    @property
    def labels(self) -> dict[str, int]:
        return dict(self._record().labels)

    @property
    def task(self) -> str | None:
        """The id of the task (step) that created the model."""
        return self._record().task

    @property
    def original_task(self) -> str | None:
        return self._record().task

    @property
    def url(self) -> str | None:
        """Where the weights are in the store."""
        return self._data.url if self._data is not None else None

    @property
    def published(self) -> bool:
        return self._data.published if self._data is not None else False

    @property
    def framework(self) -> str | None:
        return self._record().framework

    def _is_package(self) -> bool:
        return self._record().package

    def get_weights(
        self,
        raise_on_error: bool = False,
        force_download: bool = False,
        extract_archive: bool = False,
    ) -> str | None:
        """A local file holding the weights (downloaded once from a remote store); a
        package's folder with `extract_archive`. None when there are none (or, with
        `raise_on_error`, ValueError)."""
        record = self._record()
        weights = record.weights
        try:
            if weights is None:
                raise ValueError(f"model {record.id} has no weights")
            if extract_archive and weights.serializer == "folder":
                return str(self._store.get_value(weights))
            return self._store.local_path(weights)
        except Exception:
            if raise_on_error:
                raise
            return None

    def get_weights_package(
        self,
        return_path: bool = False,
        raise_on_error: bool = False,
        force_download: bool = False,
        extract_archive: bool = True,
    ) -> str | list[Path] | None:
        """A package's files (or, with `return_path`, the folder holding them)."""
        if not self._is_package():
            raise ValueError("Model is not packaged")
        folder = self.get_weights(raise_on_error, force_download, extract_archive)
        if folder is None:
            return None
        return folder if return_path else list(Path(folder).glob("*"))

    def publish(self) -> None:
        """Published for good: its weights, design and labels can no longer change."""
        record = self._record()
        if not record.published:
            current = registry.read(self._store, record.id)
            self._data = registry.write(self._store, current.model_copy(update={"published": True}))

    def _update(self, **fields: Any) -> None:
        """Rewrite the model's record with these changes (kept for the first record
        while an `OutputModel` has no weights yet)."""
        record = self._record()
        current = registry.read(self._store, record.id)
        self._data = registry.write(self._store, current.model_copy(update=fields))

    def archive(self) -> None:
        """Left out of `query_models` unless it asks for archived models."""
        self._update(archived=True)

    def unarchive(self) -> None:
        self._update(archived=False)

    def get_all_metadata(self) -> dict[str, dict[str, str]]:
        """{key: {"key", "value", "type"}}, all text, as ClearML gives it."""
        return {k: dict(v) for k, v in self._metadata().items()}

    def _metadata(self) -> dict[str, dict[str, str]]:
        return self._record().metadata

    def set_metadata(self, key: str, value: Any, v_type: str | None = None) -> bool:
        """One metadata entry, kept as text with its type's name (`int`, `float`, `bool`,
        `str`, `list`, `tuple`, `dict`; anything else is untyped), as in ClearML."""
        entries = self._metadata() | {str(key): _metadata_entry(key, value, v_type)}
        self._update(metadata=entries)
        return True

    def set_all_metadata(self, metadata: dict[str, dict[str, str]], replace: bool = True) -> bool:
        given = {
            str(k): _metadata_entry(k, entry.get("value"), entry.get("type"))
            for k, entry in metadata.items()
        }
        self._update(metadata=given if replace else self._metadata() | given)
        return True

    def get_metadata(self, key: str) -> str | None:
        return self._metadata().get(str(key), {}).get("value")

    def get_metadata_casted(self, key: str) -> Any:
        entry = self._metadata().get(str(key))
        return None if entry is None else _cast_metadata(entry["value"], entry["type"])

    def get_all_metadata_casted(self) -> dict[str, Any]:
        return {k: _cast_metadata(v["value"], v["type"]) for k, v in self._metadata().items()}

    def __repr__(self) -> str:
        if self._data is None:
            return f"<{type(self).__name__} without weights>"
        return f"<{type(self).__name__} {self._data.id} {self._data.name!r}>"


_METADATA_TYPES = ("float", "int", "bool", "str", "basestring", "list", "tuple", "dict")


def _metadata_entry(key: Any, value: Any, v_type: str | None) -> dict[str, str]:
    """ClearML keeps metadata as text; containers are kept as JSON so they read back."""
    if isinstance(value, (list, tuple, dict)):
        text = json.dumps(list(value) if isinstance(value, tuple) else value)
    else:
        text = str(value)
    kind = str(v_type) if str(v_type) in _METADATA_TYPES else str(None)
    return {"key": str(key), "value": text, "type": kind}


def _cast_metadata(value: str, kind: str) -> Any:
    """A metadata value as its type (its text when it does not read as one)."""
    try:
        if kind in ("list", "tuple", "dict"):
            return {"list": list, "tuple": tuple, "dict": dict}[kind](json.loads(value))
        if kind == "bool":
            return value.strip().lower() in ("true", "1", "yes", "on")
        if kind in ("int", "float"):
            return {"int": int, "float": float}[kind](value)
    except (ValueError, TypeError):
        return value
    return value


class Model(BaseModel):
    """A model of the registry, read-only, by its id."""

    def __init__(self, model_id: str) -> None:
        store = current_store()
        super().__init__(registry.read(store, model_id), store)

    def get_local_copy(
        self,
        extract_archive: bool | None = None,
        raise_on_error: bool = False,
        force_download: bool = False,
    ) -> str | None:
        """A local path to the weights: a package's folder, else its file."""
        if self._is_package():
            path = self.get_weights_package(
                return_path=True,
                raise_on_error=raise_on_error,
                force_download=force_download,
                extract_archive=True if extract_archive is None else extract_archive,
            )
            return path if isinstance(path, str) or path is None else str(path)
        return self.get_weights(raise_on_error, force_download, bool(extract_archive))

    @classmethod
    def query_models(
        cls,
        project_name: str | None = None,
        model_name: str | None = None,
        tags: Sequence[str] | None = None,
        only_published: bool = False,
        include_archived: bool = False,
        max_results: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> list[Model]:
        """Models by project, exact name, tags (any of them; `-tag` excludes) and
        metadata values, newest first; archived ones only with `include_archived`."""
        _no_tag_operators("query_models", tags)
        store = current_store()
        found = registry.query(
            store, project_name, model_name, tags, only_published, max_results,
            include_archived, metadata,
        )  # fmt: skip
        return [cast_model(Model, record, store) for record in found]

    @classmethod
    def remove(
        cls,
        model: str | Model,
        delete_weights_file: bool = True,
        force: bool = False,
        raise_on_errors: bool = False,
    ) -> bool:
        """Remove a model's record, and its weights (they live beside it in the store,
        so `delete_weights_file=False` keeps nothing of it either)."""
        store = current_store()
        model_id = model if isinstance(model, str) else model.id
        try:
            registry.read(store, model_id)
        except LookupError:
            if raise_on_errors:
                raise ValueError(f"Could not find model id={model_id}") from None
            return False
        registry.remove(store, model_id)
        return True


class InputModel(Model):
    """A model a task reads: by id, or the newest one of a project, name and tags."""

    def __init__(
        self,
        model_id: str | None = None,
        name: str | None = None,
        project: str | None = None,
        tags: Sequence[str] | None = None,
        only_published: bool = False,
    ) -> None:
        if not model_id:
            found = self.query_models(
                project_name=project, model_name=name, tags=tags, only_published=only_published
            )
            if not found:
                raise ValueError(
                    f"Could not locate model with project={project} name={name} tags={tags} "
                    f"published={only_published} in storage {current_store().url}"
                    + _closest(project, name)
                )
            model_id = found[0].id
        super().__init__(model_id)

    @classmethod
    def import_model(
        cls,
        weights_url: str,
        config_text: str | None = None,
        config_dict: dict[str, Any] | None = None,
        label_enumeration: Mapping[str, int] | None = None,
        name: str | None = None,
        project: str | None = None,
        tags: list[str] | None = None,
        comment: str | None = None,
        is_package: bool = False,
        create_as_published: bool = False,
        framework: str | None = None,
    ) -> InputModel:
        """A model of pre-trained weights at a URL (a local path or any fsspec URL). The
        weights are copied into the store, where every worker reads them (ClearML only
        links the URL); importing the same URL again gives the model it made, and the
        other arguments are ignored, as in ClearML."""
        existing = cls.load_model(weights_url)
        if existing is not None:
            return existing
        store, task = current_store(), current_task()
        model_id = registry.new_id()
        with _local_file(weights_url) as path:
            weights = registry.put_weights(store, model_id, path)
        record = registry.new_record(
            model_id,
            name=name or (f"Imported by {task.name or ''}" if task else Path(path).stem),
            project=project or (task.project if task else None),
            framework=str(framework) if framework is not None else None,
            tags=[str(t) for t in tags or []],
            comment=(f"Imported by task id: {task.id}" if task else None)
            if comment is None else comment,
            config_text=_config_text(config_text, config_dict),
            config_dict=dict(config_dict) if config_dict is not None else None,
            labels=_labels(label_enumeration),
            weights=weights,
            package=is_package,
            published=create_as_published,
            source=_source(weights_url),
        )  # fmt: skip
        return cast_model(cls, registry.write(store, record), store)

    @classmethod
    def load_model(cls, weights_url: str, load_archived: bool = False) -> InputModel | None:
        """The newest model imported from this URL, or whose weights are there; None
        when there is none."""
        if not weights_url:
            raise ValueError("Please provide a valid weights_url parameter")
        store, source = current_store(), _source(weights_url)
        for record in registry.query(store, include_archived=load_archived):
            if source in (record.source, record.url):
                return cast_model(cls, record, store)
        return None

    def connect(
        self, task: Task, name: str | None = None, ignore_remote_overrides: bool = False
    ) -> None:
        """The task uses this model: it is in `task.models.input`, under `name` (default
        the weights file's stem, as in ClearML)."""
        url = self.url
        entry = name or (Path(url).stem if url else "") or "Input Model"
        task._add_model("input", entry, self._record())


def cast_model(kind: type[Model], record: ModelRecord, store: Store) -> Any:
    """A `Model` (or `InputModel`) of a record already read."""
    model = kind.__new__(kind)
    BaseModel.__init__(model, record, store)
    return model


def _source(url: str) -> str:
    """A weights URL as the registry keeps it: a local path made absolute."""
    return url if "://" in url else os.path.abspath(url)


@contextlib.contextmanager
def _local_file(url: str) -> Iterator[str]:
    """A local path holding what `url` points at (a local file as is)."""
    if "://" not in url or url.startswith("file://"):
        path = url.removeprefix("file://")
        if not os.path.exists(path):
            raise FileNotFoundError(f"import_model: no weights file {url!r}")
        yield path
        return
    fs, remote = fsspec.core.url_to_fs(url)
    with tempfile.TemporaryDirectory(prefix="pipec-import-") as scratch:
        local = os.path.join(scratch, os.path.basename(remote.rstrip("/")) or "weights")
        fs.get_file(remote, local)
        yield local


def _closest(project: str | None, name: str | None) -> str:
    """The models of the store whose names are nearest to `name`, to say in an error."""
    if name is None:
        return ""
    names = sorted({m.name for m in registry.all_models(current_store())})
    near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    have = near or names[:5]
    return f"; models there: {', '.join(map(repr, have))}" if have else "; the store has no models"


class OutputModel(BaseModel):
    """A model a task produces: registered in the store when its weights are first
    stored, under one id from then on."""

    _default_output_uri: str | None = None

    def __init__(
        self,
        task: Task | None = None,
        config_text: str | None = None,
        config_dict: dict[str, Any] | None = None,
        label_enumeration: Mapping[str, int] | None = None,
        name: str | None = None,
        tags: list[str] | None = None,
        comment: str | None = None,
        framework: Any = None,
        base_model_id: str | None = None,
    ) -> None:
        if task is None:
            task = current_task()
            if task is None:
                raise ValueError("task object was not provided, and no current task was found")
        store = task._models_store()
        record = None
        if base_model_id and store is not None:
            record = registry.read(store, base_model_id)
        super().__init__(record, store if store is not None else Store.resolve())
        self._task = task
        self._connect_name: str | None = None
        self._pending = {
            "name": name or task.name or "Output Model",
            "project": task.project,
            "config_text": _config_text(config_text, config_dict),
            "config_dict": dict(config_dict) if config_dict is not None else None,
            "labels": _labels(label_enumeration),
            "tags": [str(t) for t in tags or []],
            "comment": comment,
            "framework": str(framework) if framework is not None else None,
            "task": task.id,
        }
        if record is not None:
            self._change(**self._pending)

    # --------------------------------------------------------------- what it is

    @property
    def id(self) -> str:  # type: ignore[override]
        """Empty until the weights are stored (ClearML's model has no id before then)."""
        return self._data.id if self._data is not None else ""

    def _field(self, key: str) -> Any:
        return getattr(self._data, key) if self._data is not None else self._pending[key]

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._field("name")

    @property
    def project(self) -> str | None:  # type: ignore[override]
        return self._field("project")

    @property
    def tags(self) -> list[str]:  # type: ignore[override]
        return list(self._field("tags"))

    @property
    def comment(self) -> str | None:  # type: ignore[override]
        return self._field("comment")

    @property
    def framework(self) -> str | None:  # type: ignore[override]
        return self._field("framework")

    @property
    def config_text(self) -> str | None:  # type: ignore[override]
        return self._field("config_text")

    @config_text.setter
    def config_text(self, value: str) -> None:
        self.update_design(config_text=value)

    @property
    def config_dict(self) -> dict[str, Any]:  # type: ignore[override]
        if self._data is not None:
            return super().config_dict
        given = self._pending["config_dict"]
        return dict(given) if given is not None else {}

    @config_dict.setter
    def config_dict(self, value: dict[str, Any]) -> None:
        self.update_design(config_dict=value)

    @property
    def labels(self) -> dict[str, int]:  # type: ignore[override]
        return dict(self._field("labels"))

    @labels.setter
    def labels(self, value: Mapping[str, int]) -> None:
        self.update_labels(value)

    @property
    def upload_storage_uri(self) -> str:
        return self._store.url

    # --------------------------------------------------------------- changing it

    def _check_unpublished(self) -> None:
        if self.published:
            raise ValueError("Model is published and cannot be changed")

    def _update(self, **fields: Any) -> None:
        """Metadata and archiving: kept for the first record until the weights are
        stored, as they are for ClearML's model until it is created."""
        if self._data is None:
            self._pending.update(fields)
        else:
            super()._update(**fields)

    def _metadata(self) -> dict[str, dict[str, str]]:
        return self._data.metadata if self._data is not None else self._pending.get("metadata", {})

    def _change(self, **fields: Any) -> None:
        """Apply changes: kept until the weights are stored, else written at once."""
        self._check_unpublished()
        if self._data is None:
            self._pending.update(fields)
            return
        current = registry.read(self._store, self._data.id)
        self._data = registry.write(self._store, current.model_copy(update=fields), current)

    def connect(self, task: Task, name: str | None = None, **kwargs: Any) -> None:
        """`name` is what the model is called on the task (`task.models.output[name]`)."""
        if task is not self._task:
            raise ValueError(
                "Can only connect preexisting model to task, but this is a fresh model"
            )
        if name:
            self._connect_name = name
        if self._data is not None:
            task._add_model("output", self._entry_name(None), self._data)

    def _entry_name(self, filename: str | None) -> str:
        if self._connect_name:
            return self._connect_name
        if filename:
            return Path(filename).stem
        url = self.url
        return Path(url).stem if url else "Output Model"

    def update_design(
        self, config_text: str | None = None, config_dict: dict[str, Any] | None = None
    ) -> bool:
        text = _config_text(config_text, config_dict)
        self._change(
            config_text=text, config_dict=dict(config_dict) if config_dict is not None else None
        )
        return True

    def update_labels(self, labels: Mapping[str, int]) -> bool:
        self._change(labels=_labels(labels))
        return True

    def set_upload_destination(self, uri: str) -> None:
        """Store the weights in another store (any fsspec URL); the model's record stays
        with the task's."""
        if uri:
            self._weights_store = Store(uri)

    @classmethod
    def set_default_upload_uri(cls, output_uri: str | None) -> None:
        cls._default_output_uri = str(output_uri) if output_uri else None

    @classmethod
    def wait_for_uploads(
        cls, timeout: float | None = None, max_num_uploads: int | None = None
    ) -> None:
        """Weights are stored before `update_weights` returns: nothing to wait for."""

    def update_weights(
        self,
        weights_filename: str | None = None,
        upload_uri: str | None = None,
        target_filename: str | None = None,
        auto_delete_file: bool = True,
        register_uri: str | None = None,
        iteration: int | None = None,
        update_comment: bool = True,
        is_package: bool = False,
        async_enable: bool = True,
    ) -> str:
        """Store a weights file (a folder becomes a package) in the store and register
        the model, or update it; returns the weights' URL. pipec stores before it
        returns and keeps the local file: `auto_delete_file` and `async_enable` are
        accepted as ClearML's."""
        self._check_unpublished()
        if self._task._models_store() is None:  # traced pipeline logic: the run stores it
            return ""
        if bool(weights_filename) == bool(register_uri):
            raise ValueError(
                "Model update must have either local weights file to upload, "
                "or pre-uploaded register_uri, never both"
            )
        if register_uri:
            raise UsageError(
                "update_weights(register_uri=...): pipec keeps weights in its store; pass "
                "the local file as weights_filename"
            )
        assert weights_filename is not None
        if os.path.isdir(weights_filename):
            return self.update_weights_package(
                weights_path=weights_filename,
                upload_uri=upload_uri,
                target_filename=target_filename or Path(weights_filename).name,
                auto_delete_file=auto_delete_file,
                iteration=iteration,
                async_enable=async_enable,
            )
        if not os.path.isfile(weights_filename):
            raise FileNotFoundError(f"update_weights: no weights file {weights_filename!r}")
        return self._store_weights(
            weights_filename, target_filename, upload_uri, iteration, is_package, update_comment
        )

    def update_weights_package(
        self,
        weights_filenames: Sequence[str] | None = None,
        weights_path: str | None = None,
        upload_uri: str | None = None,
        target_filename: str | None = None,
        auto_delete_file: bool = True,
        iteration: int | None = None,
        async_enable: bool = True,
    ) -> str:
        """A folder (or a list of files) stored as one zip package; `get_local_copy` of
        the model gives the folder back."""
        if bool(weights_filenames) == bool(weights_path):
            raise ValueError(
                "Model update weights package should get either directory path to pack or a "
                "list of files"
            )
        name = (target_filename or "model_package").removesuffix(".zip")
        if weights_path is not None:
            if not os.path.isdir(weights_path):
                raise FileNotFoundError(f"update_weights_package: no folder {weights_path!r}")
            return self._store_weights(weights_path, name, upload_uri, iteration, True, True)
        with tempfile.TemporaryDirectory(prefix="pipec-package-") as scratch:
            folder = os.path.join(scratch, name)
            os.mkdir(folder)
            for filename in weights_filenames or ():
                if not os.path.isfile(filename):
                    raise FileNotFoundError(f"update_weights_package: no file {filename!r}")
                shutil.copy2(filename, os.path.join(folder, os.path.basename(filename)))
            return self._store_weights(folder, name, upload_uri, iteration, True, True)

    def _store_weights(
        self,
        path: str,
        filename: str | None,
        upload_uri: str | None,
        iteration: int | None,
        package: bool,
        update_comment: bool,
    ) -> str:
        store = self._task._models_store()
        assert store is not None  # update_weights returned for traced logic
        if upload_uri:
            self.set_upload_destination(upload_uri)
        weights_store = getattr(self, "_weights_store", None) or (
            Store(self._default_output_uri) if self._default_output_uri else store
        )
        model_id = self._data.id if self._data is not None else registry.new_id()
        stored = registry.put_weights(weights_store, model_id, path, filename)
        comment = self.comment
        if update_comment:
            comment = f"snapshot {path} stored" + (f"\n{comment}" if comment else "")
        fields = {"weights": stored, "package": package, "iteration": iteration, "comment": comment}
        if self._data is None:
            self._data = registry.write(
                store, registry.new_record(model_id, **{**self._pending, **fields})
            )
        else:
            current = registry.read(store, model_id)
            self._data = registry.write(store, current.model_copy(update=fields), current)
        self._store = store
        self._task._add_model("output", self._entry_name(filename or path), self._data)
        return stored.uri
