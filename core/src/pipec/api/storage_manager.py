"""`StorageManager`: ClearML's file access helper, over fsspec (any URL fsspec opens).

As in ClearML, a remote object's name is its key in its bucket (`s3://bucket/sub/f.csv`
is `sub/f.csv`), and downloads recreate that key under the local folder; a plain path
or `file://` URL is a local file, listed relative to the folder asked for. Failures are
what ClearML returns (None, False) with the reason logged, except `upload_file`, which
raises, as ClearML's does.
"""

from __future__ import annotations

import builtins
import fnmatch
import hashlib
import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipec.store.downloads import cache_dir, unpack_once

_log = logging.getLogger("pipec")

_UPLOAD_TRIES = 3
"""ClearML's `network.file_upload_retries`: tries of one upload before it fails."""


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _key(url: str) -> str:
    """A remote object's key in its bucket: the URL's path after `protocol://bucket/`."""
    return url.split("://", 1)[1].partition("/")[2]


def _bucket_url(url: str) -> str:
    protocol, rest = url.split("://", 1)
    return f"{protocol}://{rest.partition('/')[0]}"


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    return fsspec.core.url_to_fs(url)


def _put(fs: fsspec.AbstractFileSystem, local_file: str, path: str, url: str) -> str:
    fs.makedirs(fs._parent(path), exist_ok=True)
    fs.put_file(local_file, path)
    return url


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
        fs, path = _fs(remote_url)
        if isinstance(fs, LocalFileSystem):
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

    @classmethod
    def upload_file(
        cls,
        local_file: str,
        remote_url: str,
        wait_for_upload: bool = True,
        retries: int | None = None,
    ) -> str:
        """Copy a local file to `remote_url` (the URL names the file); returns the URL.
        Tried `retries` times (3 by default) before the last error is raised. pipec
        always waits for the upload: a step's process may end right after the call."""
        if not os.path.isfile(local_file):
            raise FileNotFoundError(f"upload_file: no local file {local_file!r}")
        fs, path = _fs(remote_url)
        for _ in range(max(1, retries or _UPLOAD_TRIES) - 1):
            try:
                return _put(fs, local_file, path, remote_url)
            except Exception as exc:
                _log.warning("upload_file %s to %s: %s; trying again", local_file, remote_url, exc)
        return _put(fs, local_file, path, remote_url)

    @classmethod
    def upload_folder(
        cls,
        local_folder: str,
        remote_url: str,
        match_wildcard: str | None = None,
        retries: int | None = None,
    ) -> str | None:
        """Upload every file under `local_folder` (those whose name matches
        `match_wildcard`, at any depth) to the same relative path under `remote_url`;
        returns `remote_url`, or None if a file failed."""
        if not os.path.isdir(local_folder):
            _log.error("upload_folder: local folder %r does not exist", local_folder)
            return None
        root = Path(local_folder)
        files = [p for p in sorted(root.rglob(match_wildcard or "*")) if p.is_file()]
        failed = []
        for path in files:
            target = f"{remote_url.rstrip('/')}/{path.relative_to(root).as_posix()}"
            try:
                cls.upload_file(str(path), target, retries=retries)
            except Exception as exc:
                failed.append(f"{path}: {exc}")
        if failed:
            _log.error(
                "upload_folder: %d of %d files from %s failed: %s",
                len(failed), len(files), local_folder, "; ".join(failed),
            )  # fmt: skip
            return None
        return remote_url

    @classmethod
    def download_file(
        cls,
        remote_url: str,
        local_folder: str | None = None,
        overwrite: bool = False,
        skip_zero_size_check: bool = False,
        silence_errors: bool = False,
    ) -> str | None:
        """Download a remote file to `local_folder` (default: this machine's cache) under
        its key (`s3://bucket/sub/f.csv` becomes `FOLDER/sub/f.csv`); returns the local
        path, or None on error. A file there already is kept unless `overwrite`; a local
        file is its own path (copied only into a `local_folder` given)."""
        try:
            fs, path = _fs(remote_url)
            local = isinstance(fs, LocalFileSystem)
            if local and local_folder is None:
                if not os.path.isfile(path):
                    raise FileNotFoundError(f"no file {path}")
                return path
            key = path.lstrip("/") if local else _key(remote_url)
            target = Path(local_folder or cache_dir() / "global").expanduser().absolute() / key
            if target.is_file() and target.stat().st_size > 0 and not overwrite:
                return str(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.part")
            try:
                fs.get_file(path, str(partial))
                if not skip_zero_size_check and partial.stat().st_size == 0:
                    raise ValueError("downloaded a 0-sized file")
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
            return str(target)
        except Exception as exc:
            if not silence_errors:
                _log.error("download_file: could not download %s: %s", remote_url, exc)
            return None

    @classmethod
    def download_folder(
        cls,
        remote_url: str,
        local_folder: str | None = None,
        match_wildcard: str | None = None,
        overwrite: bool = False,
        skip_zero_size_check: bool = False,
        silence_errors: bool = False,
        max_workers: int | None = None,
    ) -> str | None:
        """Download every file under `remote_url` (whose full URL matches
        `match_wildcard`) into `local_folder` (default: this machine's cache), each under
        its key, as `download_file` does, `max_workers` at a time; returns the folder."""
        folder = Path(local_folder or cache_dir() / "global").expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _log.error("download_folder: cannot create %s: %s", folder, exc)
            return None
        urls = [
            url
            for url in cls.list(remote_url, return_full_path=True) or []
            if not match_wildcard or fnmatch.fnmatch(url, match_wildcard)
        ]
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            list(
                pool.map(
                    lambda url: cls.download_file(
                        url, str(folder), overwrite, skip_zero_size_check, silence_errors
                    ),
                    urls,
                )
            )
        if not urls and not silence_errors:
            _log.warning("download_folder: no files match %s", remote_url)
        return str(folder)

    @classmethod
    def list(
        cls,
        remote_url: str,
        return_full_path: bool = False,
        with_metadata: bool = False,
        read_hash: bool = False,
    ) -> builtins.list[str | dict[str, Any]] | None:
        """The files under `remote_url`: for a local folder, every file below it by its
        path relative to it; elsewhere, as object stores list, every object whose key
        starts with the URL's (`s3://b/data_` lists `data_1/x` and `data_2/y`), by key.
        With metadata, dicts of `name` and `size` (fsspec keeps no sha256 of its own, so
        `read_hash` adds none); None when the URL cannot be listed."""
        try:
            fs, path = _fs(remote_url)
            if _is_local(remote_url):
                base = path.rstrip("/")
                found = fs.find(base, detail=True) if fs.isdir(base) else {}
                names = {Path(os.path.relpath(p, base)).as_posix(): i for p, i in found.items()}
                prefix = remote_url.rstrip("/")
            else:
                prefix = _bucket_url(remote_url)
                root = _fs(prefix)[1].rstrip("/")
                key = _key(remote_url)
                folder = key.rpartition("/")[0]
                found = fs.find(f"{root}/{folder}" if folder else root, detail=True)
                names = {p[len(root) + 1 :]: i for p, i in found.items()}
                names = {name: info for name, info in names.items() if name.startswith(key)}
        except Exception as exc:
            _log.warning("list: cannot list %s: %s", remote_url, exc)
            return None
        listed: builtins.list[str | dict[str, Any]] = []
        for name in sorted(names):
            shown = f"{prefix}/{name}" if return_full_path else name
            listed.append(
                {"name": shown, "size": names[name].get("size")} if with_metadata else shown
            )
        return listed

    @classmethod
    def exists_file(cls, remote_url: str) -> bool:
        """Whether `remote_url` is a file (False for a folder, and on any error)."""
        if remote_url.endswith("/"):
            return False
        try:
            fs, path = _fs(remote_url)
            fs.invalidate_cache(path)
            return bool(fs.isfile(path))
        except Exception:
            return False

    @classmethod
    def get_file_size_bytes(cls, remote_url: str, silence_errors: bool = False) -> int | None:
        """The size of the file at `remote_url`; None if it is not a file there."""
        try:
            fs, path = _fs(remote_url)
            if not fs.isfile(path):
                raise FileNotFoundError(f"no file {remote_url}")
            return int(fs.size(path))
        except Exception as exc:
            if not silence_errors:
                _log.warning("get_file_size_bytes: %s", exc)
            return None


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
