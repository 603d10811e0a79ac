"""`StorageManager`: ClearML's file access helper, over fsspec."""

from __future__ import annotations

import hashlib
import os
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
        """A local path for any fsspec URL; remote files are downloaded once into a cache."""
        fs, path = fsspec.core.url_to_fs(remote_url)
        if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
            return path
        digest = hashlib.sha256(remote_url.encode()).hexdigest()[:16]
        target = (
            cache_dir() / (cache_context or "global") / digest / (name or os.path.basename(path))
        )
        if force_download or not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            fs.get(path, str(tmp), recursive=fs.isdir(path))
            os.replace(tmp, target)
        return str(target)
