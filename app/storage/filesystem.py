"""Blobs as files: crash-safe by construction.

- Complete blobs are written whole to a temporary file, fsynced, renamed into
  place and the directory fsynced: a crash leaves the old or the new, never a
  mix.
- Partials are appended to and fsynced when each request ends, so after a
  crash the file's size is the resume offset. An `flock` keeps two requests
  (or two processes) from appending to one partial at once.
- No exact time is left on disk: after each write, rename and delete the
  files and directories touched are set to the hour (`app.clock`), and
  reads open files and directories with `O_NOATIME`, so a seized disk dates
  no upload more finely than the database does. (A file's change time,
  ctime, cannot be set by any process: see SECURITY.md.)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from app import clock
from app.storage.base import (
    BLOB_KEY,
    UPLOAD_ID,
    BlobMissing,
    OffsetConflict,
    PartialBusy,
    StorageFull,
    check_key,
    check_upload_id,
)

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_COPY_BUFFER = 1024 * 1024


# Linux only; elsewhere reads may leave exact access times.
_NOATIME = getattr(os, "O_NOATIME", 0)


def _open_noatime(path: Path, flags: int) -> int:
    """Opens for reading without updating the access time (`O_NOATIME` is
    refused for files another user owns: then opens plainly)."""
    try:
        return os.open(path, flags | _NOATIME)
    except PermissionError:
        if not _NOATIME:
            raise
        return os.open(path, flags)


def _read(path: Path) -> BinaryIO:
    return os.fdopen(_open_noatime(path, os.O_RDONLY), "rb")


def _names(directory: Path) -> list[str]:
    """A directory's entries, read without touching its access time."""
    fd = _open_noatime(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return [entry.name for entry in os.scandir(fd)]
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Makes a directory's changes durable, its times set to the hour first
    (so the fsync writes those, never the exact time of the change)."""
    clock.round_file_times(path)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileAppender:
    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self.size = size

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        start = self.size
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self.size += written
        except OSError as exc:
            # Cut back to where this write began so the partial holds only
            # bytes the client was told about or will be told about.
            os.ftruncate(self._fd, start)
            self.size = start
            if exc.errno in _FULL_ERRNOS:
                raise StorageFull(str(exc)) from exc
            raise


class FilesystemBlobStore:
    """`BlobStore` over a directory (`objects/`, `partial/`, `tmp/`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._partial = self.root / "partial"
        self._tmp = self.root / "tmp"
        for directory in (self._objects, self._partial, self._tmp):
            created = _missing_ancestors(directory)
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if created:
                # The new directories, and the one they were made in.
                clock.round_file_times(*created, created[-1].parent)

    def _blob_path(self, key: str) -> Path:
        check_key(key)
        return self._objects / key[:2] / key

    def _partial_path(self, upload_id: str) -> Path:
        return self._partial / check_upload_id(upload_id)

    def partial_size(self, upload_id: str) -> int:
        try:
            return self._partial_path(upload_id).stat().st_size
        except FileNotFoundError:
            return 0

    @contextlib.contextmanager
    def append(self, upload_id: str, offset: int) -> Iterator[_FileAppender]:
        path = self._partial_path(upload_id)
        created = not path.exists()
        # Only an upload that starts makes a partial: one that resumes after
        # its partial was moved away (completed by a racing request, or
        # dropped) must not leave an empty one behind.
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT if offset == 0 else 0)
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError as exc:
            raise OffsetConflict(0) from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise PartialBusy(upload_id) from exc
            if created:
                _fsync_dir(self._partial)
            size = os.fstat(fd).st_size
            if size != offset:
                raise OffsetConflict(size)
            appender = _FileAppender(fd, size)
            try:
                yield appender
            finally:
                clock.round_file_times(fd)
                os.fsync(fd)
        finally:
            os.close(fd)  # also releases the flock

    def open_partial(self, upload_id: str) -> BinaryIO:
        try:
            return _read(self._partial_path(upload_id))
        except FileNotFoundError as exc:
            raise BlobMissing(upload_id) from exc

    def commit_partial(self, upload_id: str, key: str) -> None:
        source = self._partial_path(upload_id)
        target = self._blob_path(key)
        if not target.parent.is_dir():
            target.parent.mkdir(exist_ok=True, mode=0o700)
            _fsync_dir(self._objects)
        if target.exists():
            source.unlink(missing_ok=True)
        else:
            try:
                os.rename(source, target)
            except FileNotFoundError as exc:
                if not target.exists():
                    raise BlobMissing(upload_id) from exc
            _fsync_dir(target.parent)
        _fsync_dir(self._partial)

    def discard_partial(self, upload_id: str) -> None:
        self._partial_path(upload_id).unlink(missing_ok=True)
        clock.round_file_times(self._partial)

    def exists(self, key: str) -> bool:
        return self._blob_path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._blob_path(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc

    def open(self, key: str) -> BinaryIO:
        try:
            return _read(self._blob_path(key))
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc

    def read_head(self, key: str, length: int) -> bytes:
        with self.open(key) as src:
            return src.read(max(0, length))

    def replace_prefix(self, key: str, old_prefix_len: int, new_prefix: bytes) -> int:
        target = self._blob_path(key)
        tmp = self._tmp / f"{key}.{secrets.token_hex(8)}"
        try:
            with self.open(key) as old, tmp.open("xb") as new:
                old.seek(old_prefix_len)
                new.write(new_prefix)
                shutil.copyfileobj(old, new, _COPY_BUFFER)
                new.flush()
                clock.round_file_times(new.fileno())
                os.fsync(new.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            clock.round_file_times(self._tmp)
            if exc.errno in _FULL_ERRNOS:
                raise StorageFull(str(exc)) from exc
            raise
        clock.round_file_times(self._tmp)
        _fsync_dir(target.parent)
        return target.stat().st_size

    def delete(self, key: str) -> None:
        path = self._blob_path(key)
        path.unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            _fsync_dir(path.parent)

    def list_blobs(self) -> Iterator[str]:
        for prefix in _names(self._objects):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                for name in _names(self._objects / prefix):
                    if BLOB_KEY.match(name):
                        yield name

    def list_partials(self) -> Iterator[str]:
        for name in _names(self._partial):
            if UPLOAD_ID.match(name):
                yield name

    def clean_tmp(self, older_than: float = 3600.0) -> int:
        """Removes temporaries left by a crash mid-rewrite (old ones only, so a
        rewrite in progress keeps its file)."""
        count = 0
        limit = time.time() - older_than
        for name in _names(self._tmp):
            path = self._tmp / name
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < limit:
                    path.unlink()
                    count += 1
        if count:
            clock.round_file_times(self._tmp)
        return count


def _missing_ancestors(directory: Path) -> list[Path]:
    """`directory` and those of its parents that do not exist yet, deepest
    first: what `mkdir(parents=True)` is about to create."""
    missing = []
    while not directory.exists() and directory.parent != directory:
        missing.append(directory)
        directory = directory.parent
    return missing
