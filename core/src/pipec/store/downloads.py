"""This machine's download cache: where remote files and unpacked archives land once.

Shared by the artifact store (remote values read as local files) and ClearML's
`StorageManager.get_local_copy`.
"""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("PIPEC_CACHE_DIR", Path.home() / ".cache" / "pipec" / "downloads"))


_TAR_FILTER = "filter" in inspect.signature(shutil.unpack_archive).parameters
"""Python's tar filters (3.12, and security releases before it): with `data`, no member
lands outside the folder, nor is a device or a link out of it."""


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
