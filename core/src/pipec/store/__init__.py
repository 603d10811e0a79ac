"""The artifact store: one fsspec URL holding every run's values, records and the cache.

Layout (all paths relative to the store URL):

    runs/<pipeline>/<run_id>/run.json                       RunRecord
    runs/<pipeline>/<run_id>/pipeline.json                  the IR the run executes
    runs/<pipeline>/<run_id>/steps/<step>/step.json         StepRecord
    runs/<pipeline>/<run_id>/steps/<step>/outputs/<name>    return values
    runs/<pipeline>/<run_id>/steps/<step>/artifacts/<name>  upload_artifact
    runs/<pipeline>/<run_id>/pipeline.head.json             the IR without its steps
    runs/<pipeline>/<run_id>/steps/<step>/spec.json         the step's spec
    runs/<pipeline>/<run_id>/steps/<step>/reports/...       Logger images, media, plots
    runs/<pipeline>/<run_id>/steps/<step>/pipeline-reports/...    what the step reported
    runs/<pipeline>/<run_id>/steps/<step>/pipeline-artifacts/...  and uploaded to the pipeline
    runs/<pipeline>/<run_id>/controller/...                 the controller's own uploads,
                                                            return value and reports
    cache/<key[:2]>/<key>.json                              CacheEntry
    models/<id>/model.json                                  a registered model (pipec.registry)
    models/<id>/<upload>/<file>                             its weights
    datasets/...                                            ClearML datasets (see pipec.registry)

Every write is atomic: a reader sees the whole object or nothing.

Internal: adapters reach the store through `pipec.adapter`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import mmap
import os
import posixpath
import re
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from fsspec.registry import known_implementations
from pydantic import BaseModel, ValidationError

from pipec import plugins
from pipec.contract import Serializer, Unsupported
from pipec.records import StoredValue
from pipec.store import signing
from pipec.store.downloads import cache_dir, unpack_once
from pipec.store.serializers import SerializationError, Streaming, type_name
from pipec.store.signing import SignatureError

DEFAULT_STORE = ".pipec/store"

Custom = tuple[Callable[[Any], bytes], Callable[[bytes], Any]]
"""ClearML's (artifact_serialization_function, artifact_deserialization_function)."""

M = TypeVar("M", bound=BaseModel)

_TMP_PREFIX = ".tmp-"
"""Names being written; never listed, never read."""

_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@")
"""`user:password@` right after a URL's protocol."""

_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


_MAP_FROM = 1 << 20
"""Values at least this large are read from a local store by mapping their file: the
hash reads each page once and the value (a numpy array) is built on the mapped pages."""


class StorageError(Exception):
    """The store cannot be reached or written (message names the URL and why)."""


class ContentChanged(StorageError):
    """A local file's content is not what it was when it was hashed."""


class OutsideStoreError(StorageError):
    """A path derived from a record, a name or the command line leaves the store."""


class CorruptValueError(StorageError):
    """A stored value's bytes are not those recorded when it was written (or its
    signature is not this key's): the message names the value and the run that wrote it."""


class BadRecordError(StorageError):
    """A record file this pipec cannot read: garbage, empty, written by a newer pipec, or
    unsigned / wrongly signed under a signing key."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"{uri}: {reason}")
        self.uri, self.reason = uri, reason


Skipped = Callable[[BadRecordError], None]
"""What a listing does with a record it cannot read (a command reports it and goes on)."""


def slug(name: str) -> str:
    """A pipeline or step name as one safe path segment.

    Safe names are kept; any other name is cleaned up and gets a short hash of the
    original, so two different names never share a folder.
    """
    if _SAFE_SEGMENT.fullmatch(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-")[:64]
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{cleaned}-{digest}" if cleaned else digest


class Store:
    """A view of one store URL."""

    url: str
    """The URL as given (normalised), credentials included: what step processes open."""
    shown: str
    """The URL without credentials (`user:password@`): what records, URIs and messages hold."""

    def __init__(self, url: str) -> None:
        self.url = _normalise(url)
        self.shown = _CREDENTIALS.sub(r"\1", self.url)
        try:
            self._fs, self._root = fsspec.core.url_to_fs(self.url)
        except (ValueError, ImportError) as exc:
            reason = _protocol_problem(self.url, exc)
            raise StorageError(f"storage {self.shown} is not usable: {reason}") from exc
        self._local = isinstance(self._fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"Store({self.shown!r})"

    @classmethod
    def resolve(cls, url: str | None = None) -> Store:
        """`url` (from --storage) > $PIPEC_STORAGE > ./.pipec/store; plain paths become absolute."""
        return cls(url or os.environ.get("PIPEC_STORAGE") or DEFAULT_STORE)

    @property
    def shared_between_processes(self) -> bool:
        """False for memory:// (one process only): the local target needs a shared store."""
        return not isinstance(self._fs, MemoryFileSystem)

    def check(self) -> None:
        """Raise StorageError unless the store can be listed and written."""
        probe = f"{_TMP_PREFIX}check-{secrets.token_hex(8)}"
        try:
            if self._local:
                os.makedirs(self._root, exist_ok=True)
            self.write_bytes(probe, b"pipec")
            try:
                self._fs.invalidate_cache(self._root)
                self._fs.ls(self._root, detail=False)
            finally:
                self.remove(probe)
        except Exception as exc:
            raise StorageError(f"storage {self.shown} is not usable: {_reason(exc)}") from exc

    def uri(self, rel: str) -> str:
        """The full URL (or absolute path, for a plain-path store) of `rel`."""
        if not rel:
            return self.shown
        if "://" not in self.shown:
            return os.path.join(self.shown, *rel.split("/"))
        return self.shown + ("" if self.shown.endswith("/") else "/") + rel

    def write_bytes(self, rel: str, data: bytes) -> str:
        """Atomic write; returns the object's URI."""
        path = self._path(rel)
        if self._local:
            with _atomic_local(path) as tmp:
                Path(tmp).write_bytes(data)
        else:  # one whole-object upload: atomic on object stores
            self._fs.pipe_file(path, data)
        return self.uri(rel)

    def create_bytes(self, rel: str, data: bytes) -> bool:
        """Write `rel` whole, only if nothing is there yet: False (and nothing written)
        when it exists. Of two processes creating the same name at once, one wins.

        A local file is linked into place from a complete temporary file (a link never
        replaces a name); an object store gets one conditional upload (If-None-Match).
        """
        path = self._path(rel)
        if not self._local:
            try:
                self._fs.pipe_file(path, data, mode="create")
            except FileExistsError:
                return False
            return True
        tmp = _temporary_beside(path)
        try:  # not `_atomic_local`: its move over `path` would replace what is there
            Path(tmp).write_bytes(data)
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return True

    def copy_in(self, rel: str, source: str, digest: str | None = None) -> str:
        """Copy a local file to `rel` without loading it into memory (atomic). With
        `digest`, only a copy of that content is kept: a file that changed since it was
        hashed raises ContentChanged and leaves nothing."""
        target = self._path(rel)
        if self._local:
            with _atomic_local(target) as tmp:
                if digest is None:
                    shutil.copyfile(source, tmp)
                elif _copy_hashing(source, tmp) != digest:
                    raise ContentChanged(source)
        else:  # put_file is one upload: the object appears when it is complete
            if digest is not None and file_digest(source) != digest:
                raise ContentChanged(source)
            self._fs.put_file(source, target)
        return self.uri(rel)

    def copy_out(self, rel_or_uri: str, target: str) -> None:
        """Copy a stored file to a local path (not atomic: write into a folder of your own)."""
        fs, path = self._locate(rel_or_uri)
        if isinstance(fs, LocalFileSystem):
            shutil.copyfile(path, target)
        else:
            fs.get_file(path, target)

    def read_bytes(self, rel_or_uri: str) -> bytes:
        fs, path = self._locate(rel_or_uri)
        if isinstance(fs, LocalFileSystem):  # a run reads its records often: skip the layers
            return Path(path).read_bytes()
        return fs.cat_file(path)

    def exists(self, rel_or_uri: str) -> bool:
        fs, path = self._locate(rel_or_uri)
        if isinstance(fs, LocalFileSystem):
            return os.path.exists(path)
        fs.invalidate_cache(path)  # another process may have written it since
        return fs.exists(path)

    def listdir(self, rel: str) -> list[str]:
        """Names directly under `rel` (empty when it does not exist)."""
        path = self._path(rel)
        self._fs.invalidate_cache(path)
        try:
            entries = self._fs.ls(path, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        own = path.rstrip("/")
        names = {posixpath.basename(e.rstrip("/")) for e in entries if e.rstrip("/") != own}
        return sorted(n for n in names if not n.startswith(_TMP_PREFIX))

    def walk(self, rel: str = "") -> dict[str, float]:
        """Every file under `rel`, temporary ones included, by path relative to the store,
        with when it was last written (seconds since the epoch; 0 when the store cannot
        say). For housekeeping (`pipec gc`), which must see what `listdir` hides."""
        path = self._path(rel)
        self._fs.invalidate_cache(path)
        try:
            found = self._fs.find(path, detail=True)
        except FileNotFoundError:
            return {}
        root = self._root.rstrip("/").replace(os.sep, "/") + "/"
        return {
            name.replace(os.sep, "/").removeprefix(root): _modified(info)
            for name, info in found.items()
            if info.get("type") != "directory"
        }

    def remove(self, rel: str) -> None:
        """Remove a file or a whole folder; missing is fine."""
        with contextlib.suppress(FileNotFoundError):
            self._fs.rm(self._path(rel), recursive=True)

    def write_model(self, rel: str, record: BaseModel) -> str:
        """Write a record as JSON (signed when a signing key is set)."""
        secret = signing.key()
        if secret is None:
            return self.write_bytes(rel, record.model_dump_json(indent=2).encode())
        signed = signing.sign_record(rel, record.model_dump(mode="json"), secret)
        return self.write_bytes(rel, json.dumps(signed, indent=2, ensure_ascii=False).encode())

    def read_model(self, rel: str, model: type[M]) -> M:
        """A record; BadRecordError (naming the file) when it cannot be one of this pipec's,
        or, under a signing key, when its signature is missing or wrong."""
        raw = self.read_bytes(rel)
        secret = signing.key()
        if secret is None:
            with contextlib.suppress(ValueError):
                return model.model_validate_json(raw)
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("it is not a JSON object")
            return model.model_validate(signing.open_record(rel, data, secret))
        except SignatureError as exc:
            raise BadRecordError(self.uri(rel), str(exc)) from None
        except ValidationError as exc:
            raise BadRecordError(self.uri(rel), _invalid(exc, model.__name__)) from None
        except ValueError as exc:
            reason = "it is empty" if not raw.strip() else f"it is not JSON ({exc})"
            raise BadRecordError(self.uri(rel), reason) from None

    def put_value(self, rel: str, obj: Any, *, custom: Custom | None = None) -> StoredValue:
        """Serialise `obj` with the serializer chosen for its type and write it atomically,
        streaming into the store's file and hashing on the way (the value is never held
        twice in memory).

        `custom` (user functions) overrides the choice. Nothing is written when
        serialising fails.
        """
        kind = type_name(obj)
        if custom is not None:
            data = _custom_dumps(custom[0], obj)
            return self._put(rel + ".bin", "custom", kind, lambda sink: sink.write(data))
        for serializer in plugins.serializers():
            if not serializer.accepts(obj):
                continue
            try:
                return self._put(
                    rel + serializer.extension, serializer.name, kind, _dumper(serializer, obj)
                )
            except Unsupported:
                continue
            except (SerializationError, StorageError):
                raise
            except Exception as exc:
                raise SerializationError(
                    f"cannot serialise a {kind} with {serializer.name}: {exc}"
                ) from exc
        raise SerializationError(f"no installed serializer accepts a {kind}")

    def _put(
        self, rel: str, serializer: str, of_type: str, write: Callable[[BinaryIO], Any]
    ) -> StoredValue:
        path = self._path(rel)
        with self._sink(path) as sink:
            write(sink)  # type: ignore[arg-type]
        digest = sink.hexdigest()
        secret = signing.key()
        signed = secret is not None and serializer in signing.PICKLES
        return StoredValue(
            uri=self.uri(rel),
            hash=digest,
            serializer=serializer,
            type_name=of_type,
            size=sink.size,
            signature=signing.value_signature(serializer, digest, secret) if signed else None,  # type: ignore[arg-type]
        )

    @contextlib.contextmanager
    def _sink(self, path: str) -> Iterator[_HashingWriter]:
        """A hashing file that becomes `path` only if the block succeeds: beside it in a
        local store, else a local temporary file uploaded whole (atomic on object stores)."""
        if self._local:  # written at the top, so a failed write leaves no folder behind
            os.makedirs(self._root, exist_ok=True)
            tmp = os.path.join(self._root, f"{_TMP_PREFIX}{secrets.token_hex(8)}")
            try:
                with open(tmp, "wb") as file:
                    yield _HashingWriter(file)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            return
        with tempfile.TemporaryDirectory(prefix="pipec-upload-") as scratch:
            tmp = os.path.join(scratch, "value")
            with open(tmp, "wb") as file:
                yield _HashingWriter(file)
            self._fs.put_file(tmp, path)

    def put_file(
        self, rel_dir: str, path: str | os.PathLike[str], name: str | None = None
    ) -> StoredValue:
        """Store a local file as is at `rel_dir/<its name>` (or `name`), or a folder as
        `<its name>.zip`.

        The URI keeps the file's name (and extension) so tools that sniff it, like
        `pd.read_csv(uri)`, still work.
        """
        source = os.path.abspath(os.fspath(path))
        name = name or os.path.basename(source)
        if not os.path.isdir(source):
            return self._put_local_file(f"{rel_dir}/{name}", source, "file", type_name(path))
        name = name.removesuffix(".zip")
        with tempfile.TemporaryDirectory() as scratch:
            archive = os.path.join(scratch, name + ".zip")
            _zip_folder(source, archive)
            return self._put_local_file(f"{rel_dir}/{name}.zip", archive, "folder", type_name(path))

    def get_value(self, stored: StoredValue, *, custom: Custom | None = None) -> Any:
        """The stored value, read once and checked against its recorded hash (and, under
        a signing key, a pickle's signature) before it is deserialised; files and folders
        come back as local paths."""
        if stored.serializer == "file":
            return self.local_path(stored)
        if stored.serializer == "folder":
            return self._extracted(stored)
        if stored.serializer == "custom":
            if custom is None:
                raise SerializationError(
                    f"{stored.uri} was written by a custom serialization function: "
                    "pass the matching deserialization function to read it"
                )
            serializer: Serializer | None = None
        else:
            serializer = _serializer_named(stored.serializer, stored.uri)
        buffer = self._verified(stored)
        try:
            if serializer is None:
                return custom[1](bytes(buffer))  # type: ignore[index]
            if isinstance(serializer, Streaming):
                return serializer.load(buffer)
            return serializer.loads(bytes(buffer))
        except Exception as exc:
            raise SerializationError(
                f"cannot read the {stored.type_name} at {stored.uri} "
                f"(serializer {stored.serializer!r}): {exc}"
            ) from exc

    def verify(self, stored: StoredValue) -> None:
        """Raise CorruptValueError (or OutsideStoreError) unless the value is there, inside
        this store, with the bytes it was written with."""
        if stored.serializer in ("file", "folder"):
            self.local_path(stored)
        else:
            self._verified(stored)

    def local_path(self, stored: StoredValue) -> str:
        """A local file with the stored bytes, checked against the recorded hash
        (downloaded once for remote stores)."""
        fs, path = self._inside(stored.uri)
        if isinstance(fs, LocalFileSystem):
            try:
                digest = file_digest(path)
            except FileNotFoundError:
                raise self._corrupt(stored, "it is missing") from None
            if digest != stored.hash:
                raise self._corrupt(stored, "its bytes changed since")
            return path
        target = cache_dir() / "store" / stored.hash / posixpath.basename(path)
        if not target.exists():
            with _atomic_local(str(target)) as tmp:
                fs.get_file(path, tmp)
                if file_digest(tmp) != stored.hash:
                    raise self._corrupt(stored, "its bytes changed since")
        return str(target)

    def _verified(self, stored: StoredValue) -> bytearray | mmap.mmap:
        """The value's bytes, in a writable buffer, once they match the recorded size, hash
        and (for a pickle under a signing key) signature. A large value in a local store
        is its file mapped copy-on-write, so hashing it is the one read."""
        secret = signing.key()
        if secret is not None and stored.serializer in signing.PICKLES:
            try:
                signing.check_value(stored.serializer, stored.hash, stored.signature, secret)
            except SignatureError as exc:
                raise self._corrupt(stored, f"refused before unpickling: {exc}") from None
        fs, path = self._inside(stored.uri)
        try:
            if isinstance(fs, LocalFileSystem):
                buffer = _read_local(path, stored.size)
            else:
                buffer = _read_remote(fs, path, stored.size)
        except FileNotFoundError:
            raise self._corrupt(stored, "it is missing") from None
        except _SizeMismatch as exc:
            raise self._corrupt(stored, f"it is {exc} the {stored.size} bytes written") from None
        if hashlib.sha256(memoryview(buffer)).hexdigest() != stored.hash:
            raise self._corrupt(stored, "its bytes changed since")
        return buffer

    def _corrupt(self, stored: StoredValue, why: str) -> CorruptValueError:
        return CorruptValueError(f"{self._describe(stored.uri)} is not what was stored: {why}")

    def _describe(self, uri: str) -> str:
        """A value in the user's terms, from its place in the layout: which output of
        which step, written by which run."""
        parts = (self.relative(uri) or "").split("/")
        if len(parts) == 7 and parts[0] == "runs" and parts[3] == "steps":
            _, pipeline, run_id, _, step, kind, name = parts
            what = {"outputs": "output", "artifacts": "artifact", "models": "model"}
            return (
                f"{what.get(kind, kind)} {_stem(name)!r} of step {step!r}, written by run "
                f"{run_id} of pipeline {pipeline!r} ({uri}),"
            )
        if len(parts) == 6 and parts[0] == "runs" and parts[3] == "controller":
            name = _stem(parts[5])
            return f"the pipeline's {parts[4]} {name!r}, written by run {parts[2]} ({uri}),"
        return f"the value at {uri}"

    def _path(self, rel: str) -> str:
        """The filesystem path of `rel` for `self._fs`; OutsideStoreError for a path that
        would leave the store (`..`, an absolute path, an empty segment)."""
        if not rel:
            return self._root
        parts = rel.rstrip("/").split("/")
        if any(part in ("", ".", "..") or "\\" in part for part in parts):
            raise OutsideStoreError(f"{rel!r} is not a path inside the store {self.shown}")
        if self._local:
            return os.path.join(self._root, *parts)
        return f"{self._root.rstrip('/')}/{'/'.join(parts)}"

    def relative(self, uri: str) -> str | None:
        """`uri` relative to the store, when it is a URI of this store."""
        for url in (self.shown, self.url):
            prefix = url if url.endswith("/") else url + "/"
            if uri.startswith(prefix):
                return uri[len(prefix) :]
        if self._local and "://" not in uri and os.path.isabs(uri):
            relative = os.path.relpath(os.path.normpath(uri), self._root)
            if relative != ".." and not relative.startswith(".." + os.sep):
                return relative.replace(os.sep, "/")
        return None

    def _inside(self, uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
        """The filesystem and path of a value a record points at, which must be in this
        store: a record never makes pipec read (or unpickle) a file from elsewhere."""
        rel = self.relative(uri)
        if rel is None:
            raise OutsideStoreError(f"{uri} is outside the store {self.shown}: refused")
        return self._fs, self._path(rel)

    def _locate(self, rel_or_uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
        """The filesystem and path of a relative path, a URI of this store or any URL."""
        rel = self.relative(rel_or_uri) if "://" in rel_or_uri else None
        if rel is not None:
            return self._fs, self._path(rel)
        if "://" in rel_or_uri or os.path.isabs(rel_or_uri):
            return fsspec.core.url_to_fs(rel_or_uri)
        return self._fs, self._path(rel_or_uri)

    def _put_local_file(self, rel: str, source: str, serializer: str, of_type: str) -> StoredValue:
        """Copy a local file into the store without loading it into memory."""
        digest = file_digest(source)
        return StoredValue(
            uri=self.copy_in(rel, source),
            hash=digest,
            serializer=serializer,
            type_name=of_type,
            size=os.path.getsize(source),
        )

    def _extracted(self, stored: StoredValue) -> str:
        """A stored folder, unpacked once into the local cache."""
        name = posixpath.basename(stored.uri).removesuffix(".zip")
        return unpack_once(self.local_path(stored), cache_dir() / "store" / stored.hash / name)


def _normalise(url: str) -> str:
    """Plain paths become absolute; URLs keep their form, without a trailing slash."""
    if "://" not in url:
        return os.path.abspath(os.path.expanduser(url))
    protocol, rest = url.split("://", 1)
    return f"{protocol}://{rest.rstrip('/') or rest}"


def _modified(info: dict[str, Any]) -> float:
    """A file's last write time from an fsspec `info` (local, memory and object stores
    name it differently)."""
    value = info.get("mtime", info.get("LastModified", info.get("created", 0)))
    return value.timestamp() if hasattr(value, "timestamp") else float(value or 0)


def _protocol_problem(url: str, exc: BaseException) -> str:
    """Why fsspec cannot open `url`, with the package to install when one is missing."""
    protocol = url.split("://", 1)[0].split("::")[-1]
    known = known_implementations.get(protocol)
    if isinstance(exc, ImportError) and known:
        package = known["class"].split(".")[0]
        if package != "fsspec":
            return f"{protocol}:// needs `pip install {package}`"
        return known.get("err") or str(exc)
    if protocol not in fsspec.available_protocols():
        return f"unknown protocol {protocol!r}"
    return str(exc)


def _reason(exc: BaseException) -> str:
    """A short, human reason for a storage failure."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a file is in the way (the store must be a folder)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def _temporary_beside(path: str) -> str:
    """A fresh temporary name in `path`'s folder (made if missing), hidden from listings."""
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    return os.path.join(parent, f"{_TMP_PREFIX}{secrets.token_hex(8)}")


@contextlib.contextmanager
def _atomic_local(path: str) -> Iterator[str]:
    """A temporary name beside `path`, moved over it only if the block succeeds."""
    tmp = _temporary_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _dumper(serializer: Serializer, obj: Any) -> Callable[[BinaryIO], Any]:
    """How `serializer` writes `obj` into a file: streamed by the built-ins, the bytes of
    `dumps` for a plugin's."""
    if isinstance(serializer, Streaming):
        return lambda sink: serializer.dump(obj, sink)
    return lambda sink: sink.write(serializer.dumps(obj))


class _HashingWriter(io.RawIOBase):
    """A file being written, hashed as it is written: one pass, no copy in memory.

    (Hashing each large piece in a thread while it is written measured no faster on a
    2-CPU machine: the page cache's write-back, not the hash, set the pace.)
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._digest.update(view)
        try:
            self._file.write(view)
        except OSError as exc:
            raise StorageError(f"cannot write to the store: {_reason(exc)}") from exc
        self.size += view.nbytes
        return view.nbytes

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class _SizeMismatch(Exception):
    """A stored value's file is not the size recorded (its size is the message)."""


def _read_local(path: str, size: int) -> bytearray | mmap.mmap:
    with open(path, "rb") as file:
        actual = os.fstat(file.fileno()).st_size
        if actual != size:
            raise _SizeMismatch(f"{actual} bytes, not")
        if size >= _MAP_FROM:
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY)
        buffer = bytearray(size)
        if file.readinto(buffer) != size:
            raise _SizeMismatch("shorter than")
        return buffer


def _read_remote(fs: fsspec.AbstractFileSystem, path: str, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    with fs.open(path, "rb") as file:
        done = 0
        while done < size:
            chunk = file.read(min(size - done, 16 << 20))
            if not chunk:
                raise _SizeMismatch(f"{done} bytes, not")
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
        if file.read(1):
            raise _SizeMismatch("longer than")
    return buffer


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def _invalid(exc: ValidationError, model: str) -> str:
    """A pydantic error as one line: what does not fit this pipec's record."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the record"
    if first["type"] == "extra_forbidden":
        return f"it has a field this pipec's {model} does not know ({where}; a newer pipec?)"
    return f"it is not a valid {model} ({where}: {first['msg']})"


def _custom_dumps(dumps: Callable[[Any], bytes], obj: Any) -> bytes:
    try:
        data = dumps(obj)
    except Exception as exc:
        raise SerializationError(
            f"cannot serialise a {type_name(obj)} with the custom serialization function: {exc}"
        ) from exc
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SerializationError(
            f"the custom serialization function returned a {type_name(data)}, not bytes"
        )
    return bytes(data)


def _serializer_named(name: str, uri: str) -> Serializer:
    for serializer in plugins.serializers():
        if serializer.name == name:
            return serializer
    raise SerializationError(
        f"{uri} was written by the serializer {name!r}, which no installed pipec plugin "
        "provides: install the plugin that wrote it"
    )


def _copy_hashing(source: str, target: str) -> str:
    """Copy a file and return the sha256 of what was copied, reading it once."""
    digest = hashlib.sha256()
    buffer = memoryview(bytearray(1 << 20))
    with open(source, "rb") as src, open(target, "wb") as dst:
        while size := src.readinto(buffer):
            digest.update(buffer[:size])
            dst.write(buffer[:size])
    return digest.hexdigest()


def file_digest(path: str) -> str:
    """sha256 of a local file, read in blocks (files may be larger than memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _zip_folder(source: str, archive: str) -> None:
    """Zip a folder reproducibly (sorted entries, fixed times): equal folders, equal hashes."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames.sort()
            base = Path(os.path.relpath(dirpath, source)).as_posix()
            prefix = "" if base == "." else base + "/"
            if prefix:  # keeps empty folders
                zf.writestr(_zip_entry(prefix, os.stat(dirpath).st_mode), b"")
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                entry = _zip_entry(prefix + name, os.stat(full).st_mode)
                with open(full, "rb") as src, zf.open(entry, "w") as dst:
                    shutil.copyfileobj(src, dst)


def _zip_entry(name: str, mode: int) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.external_attr = (mode & 0xFFFF) << 16
    if name.endswith("/"):
        entry.external_attr |= 0x10  # the MS-DOS directory flag
    else:
        entry.compress_type = zipfile.ZIP_DEFLATED
    return entry
