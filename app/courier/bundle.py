"""The courier bundle as a byte-exact, resumable stream (PROTOCOL.md, *Courier bundle*).

The bundle is laid out before a byte is sent: literal pieces (tar headers,
`meta.json`, padding) and whole stored envelopes, in protocol order and byte
for byte as `crypto.BundleWriter` writes them (a test holds the two together).
Knowing the layout gives:

- the exact length, sent as Content-Length, so a courier notices a cut download;
- an ETag that names this exact bundle (the bundle id);
- any byte range without reading what comes before it, so a courier on a bad
  line resumes (`Range` + `If-Range`) instead of starting again.

The bundle id says which submissions the bundle holds, compactly: the hour
and id of the last one, and a 16-bit tag of each other one completed in that
same hour (times are kept to the hour, so the id is the only order within
it). A resumed request rebuilds the bundle from exactly those submissions, so
submissions that arrive during a long download do not change it. The id ends
with a digest of the whole layout: anything that does change the bundle (a
receipt deleted a submission, a rewrap replaced a prefix, a new manifest, a
tag collision) changes the digest, and the courier gets the whole new bundle
instead of a spliced one.
Envelopes are named in the digest by their header MAC, which every rewrap
changes; each is checked again as it is streamed, and the stream is cut if it
changed since the layout was made.

Memory is constant: one read block at a time, whatever the bundle's size.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import tarfile
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import anyio.to_thread

import crypto
from app.errors import IntakeError
from app.storage import BlobStore
from crypto.bundle import CHAIN_NAME, tar_member_header, tar_padding
from crypto.encoding import HEX32
from crypto.envelope import MAC_BYTES, PREFIX_START, prefix_length

log = logging.getLogger("intake.courier")

_READ = 256 * 1024
_BLOCK = tarfile.BLOCKSIZE
_RECORD = tarfile.RECORDSIZE
_ETAG = re.compile(
    rf'"b1\.(0|[1-9][0-9]{{0,9}})\.({HEX32})\.(-|\*|(?:[0-9a-f]{{4}}){{1,24}})\.({HEX32})"'
)
# Tags of at most this many same-hour submissions fit the id (couriers keep
# ids up to 200 characters); beyond it, the hour's submissions up to the last
# id in id order are taken.
MAX_TAGS = 24
TAG_HEX = 4
_RANGE = re.compile(r"bytes=([0-9]{1,19})-([0-9]{0,19})")
_NO_SID = "0" * 32


class RangeNotSatisfiable(IntakeError):
    status = 416
    code = "range-not-satisfiable"
    message = "The range starts beyond the end of this bundle."

    def __init__(self, length: int) -> None:
        super().__init__(length=length)
        # RFC 9110: a 416 says how long the representation is.
        self.headers = {"Content-Range": f"bytes */{length}"}


class BundleChanged(Exception):
    """A stored envelope changed after the layout was made; the stream is cut."""


@dataclass(frozen=True)
class BlobPiece:
    """A whole stored envelope, identified by its prefix's header MAC."""

    key: str
    size: int
    prefix_len: int
    mac: bytes


Piece = bytes | BlobPiece


@dataclass(frozen=True)
class Watermark:
    """Which submissions a bundle holds: every pending one completed before
    `hours`, and of those completed in that hour, `sid` and the ones whose id
    starts with a tag (or, when `tags` is None, every one up to `sid`)."""

    hours: int  # the last submission's completion time, in hours since the epoch
    sid: str
    tags: frozenset[str] | None = frozenset()

    @classmethod
    def of(cls, chosen: Sequence[tuple[int, str]]) -> Watermark | None:
        """The watermark of (hours, sid) pairs in `pending` order."""
        if not chosen:
            return None
        hours, sid = chosen[-1]
        same = [other[:TAG_HEX] for h, other in chosen[:-1] if h == hours]
        return cls(hours, sid, frozenset(same) if len(same) <= MAX_TAGS else None)

    def holds(self, hours: int, sid: str) -> bool | None:
        """Whether the bundle holds this submission; None once past the watermark."""
        if hours < self.hours:
            return True
        if hours > self.hours:
            return None
        if sid == self.sid:
            return True
        if sid > self.sid:
            return None  # within an hour, ids are the order: past the last one
        return True if self.tags is None else sid[:TAG_HEX] in self.tags

    def text(self) -> str:
        tags = "*" if self.tags is None else ("".join(sorted(self.tags)) or "-")
        return f"{self.hours}.{self.sid}.{tags}"


@dataclass
class Layout:
    pieces: list[Piece] = field(default_factory=list)
    length: int = 0
    etag: str = ""


@dataclass
class PlannedSubmission:
    meta: dict[str, Any]
    envelopes: list[tuple[str, BlobPiece]]  # eid, the blob


def blob_piece(blobs: BlobStore, key: str) -> BlobPiece:
    """Names a stored envelope by its size and the MAC ending its prefix."""
    size = blobs.size(key)
    try:
        prefix_len = prefix_length(blobs.read_head(key, PREFIX_START))
    except crypto.InvalidEnvelope as exc:
        raise BundleChanged("stored envelope is not an envelope") from exc
    prefix = blobs.read_head(key, prefix_len)
    if len(prefix) != prefix_len or prefix_len >= size:
        raise BundleChanged("stored envelope is shorter than its prefix")
    return BlobPiece(key=key, size=size, prefix_len=prefix_len, mac=prefix[-MAC_BYTES:])


def layout(
    chain: Sequence[dict[str, Any]],
    submissions: Iterable[PlannedSubmission],
    watermark: Watermark | None,
) -> Layout:
    """The bundle's pieces, length and id."""
    pieces: list[Piece] = []
    literal = bytearray()

    def add_bytes(name: str, data: bytes) -> None:
        literal.extend(tar_member_header(name, len(data)) + data + tar_padding(len(data)))

    add_bytes(CHAIN_NAME, crypto.canonical_json({"chain": [dict(c) for c in chain]}))
    for planned in submissions:
        meta = crypto.check_meta(planned.meta)
        sid = meta["id"]
        add_bytes(f"s/{sid}/meta.json", crypto.canonical_json(meta))
        for eid, blob in planned.envelopes:
            literal.extend(tar_member_header(f"s/{sid}/{eid}.env", blob.size))
            pieces.append(bytes(literal))
            literal.clear()
            pieces.append(blob)
            literal.extend(tar_padding(blob.size))
    literal.extend(bytes(2 * _BLOCK))
    length = sum(len(p) if isinstance(p, bytes) else p.size for p in pieces) + len(literal)
    literal.extend(bytes(-length % _RECORD))
    pieces.append(bytes(literal))
    length += -length % _RECORD

    digest = hashlib.blake2b(digest_size=16)
    for piece in pieces:
        if isinstance(piece, bytes):
            digest.update(b"L%d:" % len(piece) + piece)
        else:
            digest.update(b"B%s:%d:%d:" % (piece.key.encode(), piece.size, piece.prefix_len))
            digest.update(piece.mac)
    mark = (watermark or Watermark(0, _NO_SID)).text()
    etag = f'"b1.{mark}.{digest.hexdigest()}"'
    return Layout(pieces=pieces, length=length, etag=etag)


def watermark_of(etag: str | None) -> Watermark | None:
    """The watermark a bundle id carries (None if it is not one of ours)."""
    match = _ETAG.fullmatch(etag.strip()) if etag else None
    if match is None or match.group(2) == _NO_SID:
        return None
    raw = match.group(3)
    tags: frozenset[str] | None
    if raw == "*":
        tags = None
    elif raw == "-":
        tags = frozenset()
    else:
        tags = frozenset(raw[i : i + TAG_HEX] for i in range(0, len(raw), TAG_HEX))
    return Watermark(int(match.group(1)), match.group(2), tags)


def requested_range(value: str | None, length: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=first-[last]` range, or None to send
    the whole bundle. Other forms (suffix, several ranges) are ignored, as RFC 9110
    allows; a range starting past the end is `RangeNotSatisfiable`."""
    match = _RANGE.fullmatch(value.strip()) if value else None
    if match is None:
        return None
    first = int(match.group(1))
    if first >= length:
        raise RangeNotSatisfiable(length)
    last = int(match.group(2)) if match.group(2) else length - 1
    if last < first:
        return None  # not a valid range: ignored
    return first, min(last, length - 1)


def _prefix_length_or_none(head: bytes) -> int | None:
    try:
        return prefix_length(head)
    except crypto.InvalidEnvelope:
        return None


def _open_checked(blobs: BlobStore, piece: BlobPiece) -> IO[bytes]:
    src = blobs.open(piece.key)
    try:
        head = src.read(piece.prefix_len)
        src.seek(0, 2)
        size = src.tell()
        same = (
            size == piece.size
            and len(head) == piece.prefix_len
            and _prefix_length_or_none(head) == piece.prefix_len
            and hmac.compare_digest(head[-MAC_BYTES:], piece.mac)
        )
        if not same:
            raise BundleChanged("a stored envelope changed while its bundle was sent")
    except BaseException:
        src.close()
        raise
    return src


async def _blob_bytes(
    blobs: BlobStore, piece: BlobPiece, start: int, end: int
) -> AsyncIterator[bytes]:
    run = anyio.to_thread.run_sync
    src = await run(_open_checked, blobs, piece)
    try:
        await run(src.seek, start)
        left = end - start
        while left:
            block = await run(src.read, min(_READ, left))
            if not block:
                raise BundleChanged("a stored envelope ended early")
            left -= len(block)
            yield block
    finally:
        await run(src.close)


async def stream(blobs: BlobStore, plan: Layout, first: int, last: int) -> AsyncIterator[bytes]:
    """Bytes `first`..`last` (inclusive) of the bundle. If a stored envelope
    changed since the layout was made, the stream is cut short: the courier's
    length check notices, and its next request gets a new bundle id."""
    pos = 0
    try:
        for piece in plan.pieces:
            size = len(piece) if isinstance(piece, bytes) else piece.size
            start, end = max(first, pos), min(last + 1, pos + size)
            if start < end:
                if isinstance(piece, bytes):
                    yield piece[start - pos : end - pos]
                else:
                    async for block in _blob_bytes(blobs, piece, start - pos, end - pos):
                        yield block
            pos += size
            if pos > last:
                return
    except BundleChanged as exc:
        log.warning("bundle stream cut: %s", exc)
        raise
