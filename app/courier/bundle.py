"""Streaming the courier bundle in constant memory.

`crypto.BundleWriter` writes to a file object and copies whole envelopes in
one call, so it runs in its own thread writing into a small bounded queue;
the response drains the queue. If the client goes away the producer stops at
its next write; if a blob cannot be read the stream is cut short, and the
verifier's reader refuses the truncated tar.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import anyio.to_thread

import crypto
from app.storage import BlobStore

log = logging.getLogger("intake.courier")

_QUEUE_ITEMS = 32  # x tarfile's 10 KiB records: well under 1 MiB in flight
_BATCH_BYTES = 256 * 1024
_POLL = 0.25


@dataclass
class PlannedSubmission:
    meta: dict[str, Any]
    envelopes: list[tuple[str, str, int]]  # eid, blob key, size


@dataclass
class BundlePlan:
    chain: list[dict[str, Any]]
    submissions: list[PlannedSubmission] = field(default_factory=list)


class _Cancelled(Exception):
    pass


class _End:
    pass


_END = _End()


class _QueueWriter(io.RawIOBase):
    def __init__(self, items: queue.Queue[object], cancelled: threading.Event) -> None:
        super().__init__()
        self._items = items
        self._cancelled = cancelled

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        piece = bytes(data)
        while True:
            if self._cancelled.is_set():
                raise _Cancelled()
            try:
                self._items.put(piece, timeout=_POLL)
                return len(piece)
            except queue.Full:
                continue


def _envelopes(
    blobs: BlobStore, planned: PlannedSubmission
) -> Iterator[tuple[str, int, IO[bytes]]]:
    for eid, key, size in planned.envelopes:
        with blobs.open(key) as src:
            yield eid, size, src


def _produce(
    blobs: BlobStore, plan: BundlePlan, items: queue.Queue[object], cancelled: threading.Event
) -> None:
    def put(item: object) -> None:
        while not cancelled.is_set():
            try:
                items.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    try:
        writer = crypto.BundleWriter(_QueueWriter(items, cancelled))  # type: ignore[arg-type]
        writer.add_chain(plan.chain)
        for planned in plan.submissions:
            writer.add_submission(planned.meta, _envelopes(blobs, planned))
        writer.close()
        put(_END)
    except _Cancelled:
        return
    except Exception as exc:  # handed to the response, which cuts the stream
        log.warning("bundle stream failed: %s", type(exc).__name__)
        put(exc)


class _Drain:
    """Takes the next item with whatever bytes are already queued behind it;
    an end marker or error met while batching waits for the next call."""

    def __init__(self, items: queue.Queue[object], cancelled: threading.Event) -> None:
        self._items = items
        self._cancelled = cancelled
        self._stash: object | None = None

    def take(self) -> object:
        if self._stash is not None:
            first, self._stash = self._stash, None
        else:
            while True:
                try:
                    first = self._items.get(timeout=_POLL)
                    break
                except queue.Empty:
                    if self._cancelled.is_set():
                        return _END
        if not isinstance(first, bytes):
            return first
        batch = [first]
        size = len(first)
        while size < _BATCH_BYTES:
            try:
                more = self._items.get_nowait()
            except queue.Empty:
                break
            if not isinstance(more, bytes):
                self._stash = more
                break
            batch.append(more)
            size += len(more)
        return b"".join(batch)


async def stream(blobs: BlobStore, plan: BundlePlan) -> AsyncIterator[bytes]:
    items: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_ITEMS)
    cancelled = threading.Event()
    producer = threading.Thread(
        target=_produce, args=(blobs, plan, items, cancelled), name="bundle", daemon=True
    )
    producer.start()
    drain = _Drain(items, cancelled)
    try:
        while True:
            item = await anyio.to_thread.run_sync(drain.take)
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, bytes):
                yield item
    finally:
        cancelled.set()
        with contextlib.suppress(Exception):
            await anyio.to_thread.run_sync(producer.join, 5.0)
