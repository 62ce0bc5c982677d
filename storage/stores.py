"""Choosing the object store the settings name: the one module that knows both implementations."""

from __future__ import annotations

from pathlib import Path

from foundation.settings import Settings
from storage.filestore import FileStore
from storage.objects import ObjectStore
from storage.s3store import S3Store


def open_store(settings: Settings) -> ObjectStore:
    """The store the settings choose; nothing is contacted until ``check``/first use."""
    if settings.store == "s3":
        return S3Store.from_settings(settings)
    return FileStore(Path(settings.objects_dir))
