"""Courier bundles: the tar stream that carries ciphertext to the air gap (PROTOCOL.md v2).

A bundle is an uncompressed POSIX tar stream, written and read chunk by chunk.
Everything in it is hostile to the verifier: the reader accepts only the
fixed member names, only regular files, only in the fixed order, and only
``.env`` members its ``meta.json`` announced, and never creates a path named
by the archive. From a seekable source (a bundle file) each envelope is handed
out as a read-only view onto the source, so its bytes are read once, by
whoever opens it; from a stream (a pipe) each is spooled to a temporary file.
"""

from __future__ import annotations

import io
import re
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any, BinaryIO

from crypto.encoding import (
    EID,
    HEX32,
    b64d,
    canonical_json,
    is_eid,
    is_hex32,
    is_int,
    load_json,
    parse_time,
)
from crypto.envelope import MAX_MANIFEST_VERSION
from crypto.errors import InvalidEnvelope

CHAIN_NAME = "chain.json"
_META_RE = re.compile(rf"s/({HEX32})/meta\.json")
_ENV_RE = re.compile(rf"s/({HEX32})/({EID})\.env")
MAX_CHAIN_BYTES = 16 * 2**20
MAX_META_BYTES = 1 * 2**20
_SPOOL_MAX = 2**20
_COPY = 1 << 16
_VIEW_BUFFER = 1 << 20  # one read call per megabyte of envelope
SUBMISSION_KINDS = ("submission", "followup")


@dataclass
class ChainItem:
    """The manifest chain the server sent (unverified: the caller walks it)."""

    chain: list[dict[str, Any]]


@dataclass
class SubmissionItem:
    """One submission: its meta and its envelopes, each a readable, seekable file
    (a view onto the bundle, or a spooled temporary).

    The files are the caller's to read and ``close()``; names, sizes and ids
    are the server's claims, checked for form only.
    """

    meta: dict[str, Any]
    envelopes: list[tuple[str, IO[bytes]]] = field(default_factory=list)

    def close(self) -> None:
        for _eid, spool in self.envelopes:
            spool.close()


BundleItem = ChainItem | SubmissionItem


def check_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a submission's ``meta.json`` document (``ValueError`` if bad)."""
    if not isinstance(meta, Mapping) or set(meta) != {"id", "kind", "received", "envelopes"}:
        raise ValueError("meta must have exactly id, kind, received, envelopes")
    if not is_hex32(meta["id"]):
        raise ValueError("meta id must be 32 lowercase hex")
    if meta["kind"] not in SUBMISSION_KINDS:
        raise ValueError("meta kind must be submission or followup")
    parse_time(meta["received"])
    envs = meta["envelopes"]
    if not isinstance(envs, list) or not envs:
        raise ValueError("meta envelopes must be a non-empty list")
    seen: set[str] = set()
    for env in envs:
        if not isinstance(env, Mapping) or set(env) != {"id", "size", "digest"}:
            raise ValueError("envelope entry must have exactly id, size, digest")
        eid = env["id"]
        if not is_eid(eid) or eid in seen:
            raise ValueError("envelope ids must be form or 32 hex, each once")
        seen.add(eid)
        if not is_int(env["size"]) or not 0 < env["size"] <= MAX_MANIFEST_VERSION:
            raise ValueError("envelope size")
        if len(b64d(env["digest"])) != 32:
            raise ValueError("envelope digest")
    return dict(meta)


def tar_member(name: str, size: int) -> tarfile.TarInfo:
    """The tar header of every member this project writes (bundles, backups):
    a regular 0600 file of no owner and no time (a timestamp would say when
    the courier ran or the backup was made)."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = 0
    info.type = tarfile.REGTYPE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def tar_member_header(name: str, size: int) -> bytes:
    """``tar_member`` as the bytes a PAX tar stream holds before the member's
    data: for a writer that lays the stream out itself (the server sends a
    bundle by byte ranges). Byte for byte what ``BundleWriter`` writes."""
    return tar_member(name, size).tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")


def tar_padding(size: int) -> bytes:
    """The zeros after a member of ``size`` bytes, up to a whole tar block."""
    return bytes(-size % tarfile.BLOCKSIZE)


class BundleWriter:
    """Writes a bundle to ``dst`` as a stream: chain first, then submissions."""

    def __init__(self, dst: BinaryIO) -> None:
        # SIM115 waived: closed by close() or __exit__: the writer outlives this call.
        self._tar = tarfile.open(fileobj=dst, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self._have_chain = False
        self._sids: set[str] = set()
        self._closed = False

    def _add_bytes(self, name: str, data: bytes) -> None:
        self._tar.addfile(tar_member(name, len(data)), io.BytesIO(data))

    def add_chain(self, chain: Sequence[Mapping[str, Any]]) -> None:
        if self._have_chain or self._closed:
            raise ValueError("chain.json is the first member and comes once")
        self._add_bytes(CHAIN_NAME, canonical_json({"chain": [dict(c) for c in chain]}))
        self._have_chain = True

    def add_submission(
        self, meta: Mapping[str, Any], envelopes: Iterable[tuple[str, int, IO[bytes]]]
    ) -> None:
        """Write ``meta.json`` then each envelope, streaming ``size`` bytes from its file."""
        if not self._have_chain or self._closed:
            raise ValueError("add_chain first")
        meta = check_meta(meta)
        sid = meta["id"]
        if sid in self._sids:
            raise ValueError("submission written twice")
        self._sids.add(sid)
        sizes = {e["id"]: e["size"] for e in meta["envelopes"]}
        self._add_bytes(f"s/{sid}/meta.json", canonical_json(meta))
        written: set[str] = set()
        for eid, size, fh in envelopes:
            if sizes.get(eid) != size or eid in written:
                raise ValueError("envelope not announced in meta, size differs, or repeated")
            written.add(eid)
            self._tar.addfile(tar_member(f"s/{sid}/{eid}.env", size), fh)
        if written != set(sizes):
            raise ValueError("every envelope announced in meta must be written")

    def close(self) -> None:
        """Finish the tar stream (``dst`` itself stays open)."""
        if not self._closed:
            self._closed = True
            self._tar.close()

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_TAR_ERRORS = (tarfile.TarError, EOFError, ValueError, UnicodeError, OverflowError)

# Extension headers: what the data of a PAX or GNU long-name header may hold.
# Writers (ours, the server's) emit a PAX header only for a name or size that
# ustar cannot hold: a few hundred bytes.
MAX_TAR_HEADER_DATA = 64 * 1024
_MAX_EXTENSION_RUN = 4  # extension headers in a row before one member
_EXTENSION_TYPES = frozenset({tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK})
# Never written for a bundle: global PAX headers pile up for the whole
# archive; Solaris headers and GNU sparse maps have no use here.
_REFUSED_TYPES = frozenset({tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_SPARSE})


class HeaderRefused(tarfile.TarError):
    """An extension header too large, one too many, or of a type bundles never hold."""


class BoundedTarInfo(tarfile.TarInfo):
    """Checks each header block before tarfile acts on it.

    tarfile reads a PAX or GNU long-name header's data whole, then copies it
    while parsing, before a caller sees any member: a 300 MB PAX header made
    the verifier use ~950 MB before refusing the bundle. Its size is in the
    512-byte block read first, so it is refused there; so is a run of
    extension headers, which tarfile follows by recursion.
    """

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _REFUSED_TYPES:
            raise HeaderRefused("header type")
        if self.type in _EXTENSION_TYPES:
            run = int(getattr(tar, "_bundle_extension_run", 0)) + 1
            if self.size > MAX_TAR_HEADER_DATA or run > _MAX_EXTENSION_RUN:
                raise HeaderRefused("extension header")
        else:
            run = 0
        tar._bundle_extension_run = run  # type: ignore[attr-defined]  # state of this read only
        # tarfile's own dispatch (private, undeclared in typeshed; stable since Python 3.2).
        member: tarfile.TarInfo = super()._proc_member(tar)  # type: ignore[misc]
        return member


def _malformed() -> InvalidEnvelope:
    return InvalidEnvelope("malformed")


def _read_json_member(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> Any:
    if member.size > limit:
        raise _malformed()
    fh = tar.extractfile(member)
    if fh is None:
        raise _malformed()
    data = fh.read(limit + 1)
    if len(data) != member.size:
        raise _malformed()
    return load_json(data)


def _spool_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    fh = tar.extractfile(member)
    if fh is None:
        raise _malformed()
    # SIM115 waived: returned open; the SubmissionItem holding it closes it.
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MAX)  # noqa: SIM115
    try:
        left = member.size
        while left:
            piece = fh.read(min(left, _COPY))
            if not piece:
                raise _malformed()
            spool.write(piece)
            left -= len(piece)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


class _MemberView(io.RawIOBase):
    """Read-only window onto one member's bytes in a seekable bundle source.

    It seeks the source before each read, so several views and the tar reader
    can share it; ``read_bundle`` puts the source back where it left it.
    """

    def __init__(self, src: IO[bytes], offset: int, size: int) -> None:
        super().__init__()
        self._src = src
        self._offset = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        at = self._offset + self._pos
        if self._src.tell() != at:
            self._src.seek(at)
        window = memoryview(buffer).cast("B")[:want]
        if isinstance(self._src, io.RawIOBase | io.BufferedIOBase):
            got = self._src.readinto(window) or 0  # straight into the buffer: one copy fewer
        else:
            data = self._src.read(want)
            got = len(data)
            window[:got] = data
        self._pos += got
        return got


def _view_member(src: IO[bytes], member: tarfile.TarInfo) -> IO[bytes]:
    view = _MemberView(src, member.offset_data, member.size)
    return io.BufferedReader(view, buffer_size=_VIEW_BUFFER)


def _handed_out(src: IO[bytes], item: SubmissionItem, seekable: bool) -> Iterator[SubmissionItem]:
    """Yield ``item``; the caller reading its views moves ``src``, so put it back."""
    resume = src.tell() if seekable else 0
    yield item
    if seekable:
        src.seek(resume)


def read_bundle(src: BinaryIO) -> Iterator[BundleItem]:
    """Yield the chain, then each submission once all its envelopes are present.

    ``InvalidEnvelope("malformed")`` for a broken tar stream, a wrong name,
    type or order, an envelope not announced (or missing, or of another size
    than announced), or a repeated submission.
    """
    pending: SubmissionItem | None = None
    announced: dict[str, int] = {}
    sids: set[str] = set()
    seekable = src.seekable()
    try:
        # A seekable source is walked header to header ("r:" seeks over the
        # data); a stream must be read through ("r|") and its members spooled.
        # SIM115 waived: the TarFile only wraps `src`, which stays the caller's to close.
        tar = tarfile.open(  # noqa: SIM115
            fileobj=src, mode="r:" if seekable else "r|", tarinfo=BoundedTarInfo
        )
        have_chain = False
        for member in tar:
            # Regular files only: no links, devices, directories or sparse files.
            if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or member.issparse():
                raise _malformed()
            name = member.name
            if not have_chain:
                if name != CHAIN_NAME:
                    raise _malformed()
                doc = _read_json_member(tar, member, MAX_CHAIN_BYTES)
                if (
                    not isinstance(doc, dict)
                    or set(doc) != {"chain"}
                    or not isinstance(doc["chain"], list)
                    or not all(isinstance(c, dict) for c in doc["chain"])
                ):
                    raise _malformed()
                have_chain = True
                yield ChainItem(doc["chain"])
                continue
            meta_match = _META_RE.fullmatch(name)
            env_match = _ENV_RE.fullmatch(name)
            if meta_match:
                if pending is not None:
                    if announced:
                        raise _malformed()  # an announced envelope never came
                    item, pending = pending, None
                    yield from _handed_out(src, item, seekable)
                sid = meta_match.group(1)
                meta = check_meta(_read_json_member(tar, member, MAX_META_BYTES))
                if meta["id"] != sid or sid in sids:
                    raise _malformed()
                sids.add(sid)
                pending = SubmissionItem(meta)
                announced = {e["id"]: e["size"] for e in meta["envelopes"]}
            elif env_match:
                sid, eid = env_match.group(1), env_match.group(2)
                if pending is None or pending.meta["id"] != sid:
                    raise _malformed()
                if announced.pop(eid, None) != member.size:
                    raise _malformed()  # not announced, already seen, or another size
                opened = _view_member(src, member) if seekable else _spool_member(tar, member)
                pending.envelopes.append((eid, opened))
            else:
                raise _malformed()
        if not have_chain:
            raise _malformed()
        if pending is not None:
            if announced:
                raise _malformed()
            item, pending = pending, None
            yield from _handed_out(src, item, seekable)
    except _TAR_ERRORS as exc:
        raise _malformed() from exc
    finally:
        if pending is not None:
            pending.close()
