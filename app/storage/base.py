"""The blob store interface: where envelope bytes live.

Two kinds of object:
- a *partial* (an upload in progress), named by an upload id (`<sid>.<eid>`),
  appended to in order; its size is the resume offset, even after a crash;
- a *blob* (a complete, validated envelope), named by its hex payload digest
  (content addressed: a rewrap keeps the name).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol

from crypto.encoding import EID, HEX32

# Names are made by the server, but a store never trusts a name it would turn
# into a path or a query.
BLOB_KEY = re.compile(r"\A[0-9a-f]{64}\Z")
UPLOAD_ID = re.compile(rf"\A{HEX32}\.({EID})\Z")


class StorageError(Exception):
    """A store failed; what is stored is unchanged."""


class StorageFull(StorageError):
    """The device is full; the partial was cut back to its last good size."""


class OffsetConflict(StorageError):
    """The partial's size is not the offset the writer expected."""

    def __init__(self, actual: int) -> None:
        super().__init__(f"partial holds {actual} bytes")
        self.actual = actual


class PartialBusy(StorageError):
    """Another writer holds this partial."""


class BlobMissing(StorageError):
    """No blob or partial of that name."""


def check_key(key: str) -> str:
    if not BLOB_KEY.match(key):
        raise ValueError("bad blob key")
    return key


def check_upload_id(upload_id: str) -> str:
    if not UPLOAD_ID.match(upload_id):
        raise ValueError("bad upload id")
    return upload_id


def upload_id(sid: str, eid: str) -> str:
    return check_upload_id(f"{sid}.{eid}")


class Appender(Protocol):
    """Writes to the end of a partial; `size` is the bytes it now holds."""

    size: int

    def write(self, data: bytes) -> None: ...


class BlobStore(Protocol):
    """What the services need from a store. Every method is blocking: call it
    from a worker thread in async code."""

    def partial_size(self, upload_id: str) -> int:
        """Bytes held for the upload (0 if none)."""
        ...

    def append(self, upload_id: str, offset: int) -> AbstractContextManager[Appender]:
        """Exclusive appender positioned at `offset`; raises `OffsetConflict`
        if the partial holds another size and `PartialBusy` if another writer
        has it. Bytes written are durable when the context exits, even if the
        body raised."""
        ...

    def open_partial(self, upload_id: str) -> BinaryIO: ...

    def commit_partial(self, upload_id: str, key: str) -> None:
        """Makes the partial the blob `key`. If that blob already exists (the
        same envelope uploaded twice) the partial is dropped. Idempotent."""
        ...

    def discard_partial(self, upload_id: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def open(self, key: str) -> BinaryIO: ...

    def read_head(self, key: str, length: int) -> bytes:
        """The first `length` bytes of blob `key` (fewer if it is shorter),
        without reading the rest: the courier bundle names each envelope's
        prefix by its header MAC, for every envelope of every request."""
        ...

    def replace_prefix(self, key: str, old_prefix_len: int, new_prefix: bytes) -> int:
        """Atomically replaces the first `old_prefix_len` bytes of blob `key`
        by `new_prefix`; returns the new size. Readers see old or new, whole."""
        ...

    def delete(self, key: str) -> None: ...

    def list_blobs(self) -> Iterator[str]: ...

    def list_partials(self) -> Iterator[str]: ...
