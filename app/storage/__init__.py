"""Where envelope bytes live: files (default) or database rows."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.settings import Settings
from app.storage.base import (
    Appender,
    BlobMissing,
    BlobStore,
    OffsetConflict,
    PartialBusy,
    StorageError,
    StorageFull,
    upload_id,
)
from app.storage.database import DatabaseBlobStore
from app.storage.filesystem import FilesystemBlobStore

__all__ = [
    "Appender",
    "BlobMissing",
    "BlobStore",
    "DatabaseBlobStore",
    "FilesystemBlobStore",
    "OffsetConflict",
    "PartialBusy",
    "StorageError",
    "StorageFull",
    "guarded_path",
    "make_blob_store",
    "upload_id",
]


def make_blob_store(settings: Settings, engine: Engine) -> BlobStore:
    if settings.blob_backend == "db":
        return DatabaseBlobStore(engine)
    return FilesystemBlobStore(settings.blob_dir)


def guarded_path(settings: Settings) -> Path | None:
    """The directory whose free space the disk guard watches: the blob
    directory, or the SQLite file's directory when blobs live in SQLite. A
    remote database's disk cannot be seen from here (None)."""
    if settings.blob_backend == "fs":
        return settings.blob_dir
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent
    return None


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free
