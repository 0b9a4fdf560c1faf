"""Blob stores (files and database rows): resumable partials, atomic
replacement, and a full disk that never corrupts what is stored."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from app.db import make_engine
from app.settings import Settings
from app.storage import (
    BlobMissing,
    BlobStore,
    DatabaseBlobStore,
    FilesystemBlobStore,
    OffsetConflict,
    PartialBusy,
    StorageFull,
    upload_id,
)

UPLOAD = upload_id("a" * 32, "form")
KEY = "b" * 64


@pytest.fixture(params=["fs", "db"])
def store(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Iterator[BlobStore]:
    if request.param == "fs":
        yield FilesystemBlobStore(tmp_path / "blobs")
        return
    engine = make_engine(
        Settings(database_url=database_url, environment="test", pow_secret=SecretStr("a" * 64))
    )
    yield DatabaseBlobStore(engine)
    engine.dispose()


def _read(store: BlobStore, key: str) -> bytes:
    with store.open(key) as src:
        return src.read()


def test_partial_grows_only_at_its_end(store: BlobStore) -> None:
    assert store.partial_size(UPLOAD) == 0
    with store.append(UPLOAD, 0) as out:
        out.write(b"hello ")
    with pytest.raises(OffsetConflict) as conflict, store.append(UPLOAD, 3):
        pass
    assert conflict.value.actual == 6
    with store.append(UPLOAD, 6) as out:
        out.write(b"world")
    assert store.partial_size(UPLOAD) == 11
    with store.open_partial(UPLOAD) as src:
        assert src.read() == b"hello world"


def test_bytes_written_before_a_failure_are_kept_for_resuming(store: BlobStore) -> None:
    with contextlib.suppress(RuntimeError), store.append(UPLOAD, 0) as out:
        out.write(b"x" * 1000)
        raise RuntimeError("connection dropped")
    assert store.partial_size(UPLOAD) == 1000


def test_commit_is_idempotent_and_keeps_the_first_copy(store: BlobStore) -> None:
    with store.append(UPLOAD, 0) as out:
        out.write(b"first copy")
    store.commit_partial(UPLOAD, KEY)
    store.commit_partial(UPLOAD, KEY)  # a retried completion
    assert _read(store, KEY) == b"first copy"
    assert store.partial_size(UPLOAD) == 0
    other = upload_id("c" * 32, "form")
    with store.append(other, 0) as out:
        out.write(b"second copy")
    store.commit_partial(other, KEY)
    assert _read(store, KEY) == b"first copy"
    assert store.partial_size(other) == 0
    assert list(store.list_blobs()) == [KEY]
    with pytest.raises(BlobMissing):
        store.commit_partial(upload_id("d" * 32, "form"), "e" * 64)


def test_replace_prefix_swaps_only_the_prefix(store: BlobStore) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 5)
    with store.append(UPLOAD, 0) as out:
        out.write(b"OLDPREFIX")
        out.write(payload)
    store.commit_partial(UPLOAD, KEY)
    size = store.replace_prefix(KEY, 9, b"NEW")
    assert size == 3 + len(payload)
    assert store.size(KEY) == size
    assert _read(store, KEY) == b"NEW" + payload
    with pytest.raises(BlobMissing):
        store.replace_prefix("f" * 64, 9, b"NEW")


def test_delete_and_discard(store: BlobStore) -> None:
    with store.append(UPLOAD, 0) as out:
        out.write(b"abc")
    assert list(store.list_partials()) == [UPLOAD]
    store.discard_partial(UPLOAD)
    assert list(store.list_partials()) == []
    with store.append(UPLOAD, 0) as out:
        out.write(b"abc")
    store.commit_partial(UPLOAD, KEY)
    store.delete(KEY)
    assert not store.exists(KEY)
    with pytest.raises(BlobMissing):
        store.open(KEY)


def test_store_refuses_names_that_could_escape(store: BlobStore) -> None:
    with pytest.raises(ValueError, match="bad"):
        store.partial_size("../../etc/passwd")
    with pytest.raises(ValueError, match="bad"):
        store.exists("../" + "a" * 61)


def test_two_writers_cannot_append_to_one_partial_at_once(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    with store.append(UPLOAD, 0) as out:
        out.write(b"a")
        with pytest.raises(PartialBusy), store.append(UPLOAD, 1):
            pass
    assert store.partial_size(UPLOAD) == 1


def test_db_store_second_writer_at_the_same_offset_fails(database_url: str) -> None:
    engine = make_engine(
        Settings(database_url=database_url, environment="test", pow_secret=SecretStr("a" * 64))
    )
    store = DatabaseBlobStore(engine)
    try:
        with pytest.raises(OffsetConflict), store.append(UPLOAD, 0) as first:
            with store.append(UPLOAD, 0) as second:
                second.write(b"second")
            first.write(b"first!")
        with store.open_partial(UPLOAD) as src:
            assert src.read() == b"second"
    finally:
        engine.dispose()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KiB filesystem (tmpfs), so writes really hit ENOSPC."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], check=False
    )
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_full_disk_cuts_the_partial_back_to_its_last_good_size(tiny_disk: Path) -> None:
    store = FilesystemBlobStore(tiny_disk)
    with store.append(UPLOAD, 0) as out:
        out.write(b"k" * 100_000)
    with pytest.raises(StorageFull), store.append(UPLOAD, 100_000) as out:
        out.write(b"z" * 1_000_000)  # more than the disk holds
    assert store.partial_size(UPLOAD) == 100_000
    with store.open_partial(UPLOAD) as src:
        assert src.read() == b"k" * 100_000


def test_sqlite_connection_pragmas(database_url: str) -> None:
    engine = make_engine(
        Settings(database_url=database_url, environment="test", pow_secret=SecretStr("a" * 64))
    )
    try:
        if engine.dialect.name != "sqlite":
            pytest.skip("SQLite only")
        with engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 10_000
    finally:
        engine.dispose()


def test_resuming_a_partial_that_is_gone_creates_no_empty_one(store: BlobStore) -> None:
    """A resumed PUT that lost the race to a request that stored (or dropped)
    its partial is told the server holds nothing there, and leaves nothing."""
    with pytest.raises(OffsetConflict) as conflict, store.append(UPLOAD, 100):
        pass
    assert conflict.value.actual == 0
    assert list(store.list_partials()) == []


def _times_not_on_the_hour(root: Path) -> list[str]:
    """Listed with O_NOATIME: looking must not move what is looked at."""
    hour_ns = 3600 * 1_000_000_000
    found = []
    pending = [root]
    while pending:
        path = pending.pop()
        info = path.lstat()
        found += [
            f"{path.relative_to(root.parent)} {name}"
            for name in ("st_atime_ns", "st_mtime_ns")
            if getattr(info, name) % hour_ns
        ]
        if path.is_dir():
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOATIME", 0))
            try:
                pending += [path / entry.name for entry in os.scandir(fd)]
            finally:
                os.close(fd)
    return found


def test_filesystem_store_leaves_no_time_finer_than_the_hour(tmp_path: Path) -> None:
    """Every file and directory it creates, writes, renames into or deletes
    from carries hour times, and reading a blob or listing leaves them so."""
    root = tmp_path / "data" / "blobs"
    store = FilesystemBlobStore(root)
    other = upload_id("c" * 32, "form")
    for name in (UPLOAD, other):
        with store.append(name, 0) as out:
            out.write(b"0123456789")
    store.commit_partial(UPLOAD, KEY)
    store.replace_prefix(KEY, 2, b"AB")
    store.discard_partial(other)
    with store.append(other, 0) as out:
        out.write(b"again")
    store.commit_partial(other, "d" * 64)
    store.delete("d" * 64)
    # Readers: each would move an access time on a `relatime` mount.
    assert _read(store, KEY) == b"AB23456789"
    assert store.read_head(KEY, 2) == b"AB"
    assert list(store.list_blobs()) == [KEY]
    assert list(store.list_partials()) == []
    assert _times_not_on_the_hour(tmp_path / "data") == []
