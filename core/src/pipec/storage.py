"""`StorageManager`: ClearML's file access helper, over fsspec."""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import tempfile
from pathlib import Path

import fsspec


def cache_dir() -> Path:
    return Path(os.environ.get("PIPEC_CACHE_DIR", Path.home() / ".cache" / "pipec" / "downloads"))


class StorageManager:
    @classmethod
    def get_local_copy(
        cls,
        remote_url: str,
        cache_context: str | None = None,
        extract_archive: bool = True,
        name: str | None = None,
        force_download: bool = False,
    ) -> str:
        """A local path for any fsspec URL; remote files are downloaded once into a cache.
        With `extract_archive` (ClearML's default), a zip or tar file comes back as a
        folder holding its content, extracted once into the cache."""
        fs, path = fsspec.core.url_to_fs(remote_url)
        if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
            local = path
        else:
            digest = hashlib.sha256(remote_url.encode()).hexdigest()[:16]
            target = cache_dir() / (cache_context or "global") / digest
            target /= name or os.path.basename(path)
            if force_download or not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(target.name + ".part")
                fs.get(path, str(tmp), recursive=fs.isdir(path))
                os.replace(tmp, target)
            local = str(target)
        fmt = _archive_format(local) if extract_archive and os.path.isfile(local) else None
        return local if fmt is None else _extracted(local, fmt, cache_context)


def _archive_format(path: str) -> str | None:
    """The `shutil.unpack_archive` format of a file, by its name (.zip, .tar.gz, ...)."""
    for fmt, extensions, _ in shutil.get_unpack_formats():
        if any(path.endswith(ext) for ext in extensions):
            return fmt
    return None


_TAR_FILTER = "filter" in inspect.signature(shutil.unpack_archive).parameters
"""Python's tar filters (3.12, and security releases before it): with `data`, no member
lands outside the folder, nor is a device or a link out of it."""


def _extracted(archive: str, fmt: str, cache_context: str | None) -> str:
    """The archive's content as a folder in the cache, once per version of the archive
    (its path, size and time)."""
    stat = os.stat(archive)
    key = f"{os.path.abspath(archive)}:{stat.st_size}:{stat.st_mtime_ns}"
    folder = cache_dir() / (cache_context or "global") / "extracted"
    return unpack_once(archive, folder / hashlib.sha256(key.encode()).hexdigest()[:16], fmt)


def unpack_once(archive: str, target: Path, fmt: str = "zip") -> str:
    """`archive` (a `shutil.unpack_archive` format) unpacked into `target`, unless it is
    there: into a temporary folder renamed when complete, so a folder that is there is
    whole, and a process that unpacked it at the same time wins."""
    if target.is_dir():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-")
    try:
        if fmt != "zip" and _TAR_FILTER:
            shutil.unpack_archive(archive, tmp, fmt, filter="data")
        else:  # zip members are kept inside the folder by `zipfile` itself
            shutil.unpack_archive(archive, tmp, fmt)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(target)
