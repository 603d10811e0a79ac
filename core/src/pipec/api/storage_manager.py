"""`StorageManager`: ClearML's file access helper, over fsspec."""

from __future__ import annotations

import hashlib
import os
import shutil

import fsspec

from pipec.store.downloads import cache_dir, unpack_once


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


def _extracted(archive: str, fmt: str, cache_context: str | None) -> str:
    """The archive's content as a folder in the cache, once per version of the archive
    (its path, size and time)."""
    stat = os.stat(archive)
    key = f"{os.path.abspath(archive)}:{stat.st_size}:{stat.st_mtime_ns}"
    folder = cache_dir() / (cache_context or "global") / "extracted"
    return unpack_once(archive, folder / hashlib.sha256(key.encode()).hexdigest()[:16], fmt)
