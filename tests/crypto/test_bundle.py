"""Courier bundles: the tar stream is hostile input, read in fixed form only."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crypto import (
    BundleWriter,
    ChainItem,
    InvalidEnvelope,
    Keyring,
    SubmissionItem,
    b64e,
    canonical_json,
    open_envelope,
    payload_digest,
    read_bundle,
    seal_bytes,
)
from tests.vectors.generate import BASE_CHAIN, GENESIS_REF, V1

SID1, SID2 = "1" * 32, "2" * 32
EID = "a" * 32


def envelope(content: bytes) -> bytes:
    assert V1.x25519_public is not None
    return seal_bytes(
        content, kind="attachment", manifest=GENESIS_REF, recipients=[V1.x25519_public], chunk=4096
    )


FORM, ATTACHMENT = envelope(b'{"answers":{}}'), envelope(os.urandom(10000))


def meta(sid: str, envs: dict[str, bytes]) -> dict[str, Any]:
    return {
        "id": sid,
        "kind": "submission",
        "received": "2026-06-01T10:00:00Z",
        "envelopes": [
            {"id": eid, "size": len(data), "digest": b64e(payload_digest(io.BytesIO(data)))}
            for eid, data in envs.items()
        ],
    }


def write_bundle() -> bytes:
    out = io.BytesIO()
    with BundleWriter(out) as writer:
        writer.add_chain(BASE_CHAIN)
        for sid in (SID1, SID2):
            envs = {"form": FORM, EID: ATTACHMENT}
            writer.add_submission(
                meta(sid, envs), [(eid, len(d), io.BytesIO(d)) for eid, d in envs.items()]
            )
    return out.getvalue()


def read_all(data: bytes) -> list[Any]:
    items = []
    for item in read_bundle(io.BytesIO(data)):
        if isinstance(item, SubmissionItem):
            item.close()  # as they come: a later fault must not leak earlier spools
        items.append(item)
    return items


def tar_of(members: list[tuple[str, bytes] | tarfile.TarInfo]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def chain_member() -> tuple[str, bytes]:
    return ("chain.json", canonical_json({"chain": BASE_CHAIN}))


def meta_member(sid: str = SID1, envs: dict[str, bytes] | None = None) -> tuple[str, bytes]:
    return (f"s/{sid}/meta.json", canonical_json(meta(sid, envs or {"form": FORM})))


def test_bundle_round_trips_chain_then_submissions_with_openable_envelopes() -> None:
    items = list(read_bundle(io.BytesIO(write_bundle())))
    assert isinstance(items[0], ChainItem) and items[0].chain == BASE_CHAIN
    subs = items[1:]
    assert [s.meta["id"] for s in subs] == [SID1, SID2]  # type: ignore[union-attr]
    for sub in subs:
        assert isinstance(sub, SubmissionItem)
        assert [eid for eid, _ in sub.envelopes] == ["form", EID]
        spools = dict(sub.envelopes)
        assert spools["form"].read() == FORM
        out = io.BytesIO()
        open_envelope(spools[EID], out, Keyring([V1]))
        assert len(out.getvalue()) == 10000
        sub.close()


class Trickle(io.RawIOBase):
    """Non-seekable source with short reads, like a socket."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        piece = self._src.read(min(len(buf), 777))
        buf[: len(piece)] = piece
        return len(piece)


def test_bundle_is_read_as_a_stream_from_a_non_seekable_source() -> None:
    items = list(read_bundle(Trickle(write_bundle())))  # type: ignore[arg-type]
    assert len(items) == 3
    for item in items[1:]:
        item.close()  # type: ignore[union-attr]


def test_reading_a_bundle_creates_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    read_all(write_bundle())
    assert list(tmp_path.iterdir()) == []


def _symlink(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    return info


def _directory(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


def _hardlink(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = "chain.json"
    return info


HOSTILE: dict[str, Any] = {
    "empty-stream": lambda: b"",
    "not-a-tar": lambda: b"hello" * 200,
    "gzip-compressed": lambda: gzip.compress(write_bundle()),
    "truncated-stream": lambda: write_bundle()[:3000],
    "no-chain-first": lambda: tar_of([meta_member(), chain_member()]),
    "chain-twice": lambda: tar_of([chain_member(), chain_member()]),
    "chain-not-json": lambda: tar_of([("chain.json", b"{")]),
    "chain-wrong-shape": lambda: tar_of([("chain.json", b'{"chain":{}}')]),
    "path-traversal": lambda: tar_of([chain_member(), ("../" + SID1 + "/meta.json", b"{}")]),
    "absolute-path": lambda: tar_of([chain_member(), ("/s/" + SID1 + "/meta.json", b"{}")]),
    "unknown-member": lambda: tar_of([chain_member(), ("README", b"hi")]),
    "uppercase-sid": lambda: tar_of([chain_member(), meta_member(SID1.upper())]),
    "symlink-member": lambda: tar_of([chain_member(), _symlink(f"s/{SID1}/form.env")]),
    "hardlink-member": lambda: tar_of(
        [chain_member(), meta_member(), _hardlink(f"s/{SID1}/form.env")]
    ),
    "directory-member": lambda: tar_of([chain_member(), _directory(f"s/{SID1}")]),
    "env-before-meta": lambda: tar_of([chain_member(), (f"s/{SID1}/form.env", FORM)]),
    "env-not-announced": lambda: tar_of(
        [
            chain_member(),
            meta_member(),
            (f"s/{SID1}/form.env", FORM),
            (f"s/{SID1}/{EID}.env", ATTACHMENT),
        ]
    ),
    "env-of-another-submission": lambda: tar_of(
        [chain_member(), meta_member(), (f"s/{SID2}/form.env", FORM)]
    ),
    "env-twice": lambda: tar_of(
        [chain_member(), meta_member(), (f"s/{SID1}/form.env", FORM), (f"s/{SID1}/form.env", FORM)]
    ),
    "env-size-differs": lambda: tar_of(
        [chain_member(), meta_member(), (f"s/{SID1}/form.env", FORM + b"x")]
    ),
    "announced-env-missing-at-end": lambda: tar_of([chain_member(), meta_member()]),
    "announced-env-missing-before-next": lambda: tar_of(
        [chain_member(), meta_member(SID1), meta_member(SID2), (f"s/{SID2}/form.env", FORM)]
    ),
    "submission-repeated": lambda: tar_of(
        [
            chain_member(),
            meta_member(),
            (f"s/{SID1}/form.env", FORM),
            meta_member(),
            (f"s/{SID1}/form.env", FORM),
        ]
    ),
    "meta-id-differs-from-path": lambda: tar_of(
        [chain_member(), (f"s/{SID1}/meta.json", meta_member(SID2)[1])]
    ),
    "meta-not-json": lambda: tar_of([chain_member(), (f"s/{SID1}/meta.json", b"\xff")]),
    "meta-extra-field": lambda: tar_of(
        [
            chain_member(),
            (f"s/{SID1}/meta.json", canonical_json({**meta(SID1, {"form": FORM}), "path": "/etc"})),
        ]
    ),
}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bundles_are_refused_as_malformed(make: Any) -> None:
    with pytest.raises(InvalidEnvelope) as info:
        read_all(make())
    assert info.value.reason == "malformed"


def test_items_before_a_fault_are_yielded_and_then_the_stream_fails() -> None:
    data = tar_of(
        [
            chain_member(),
            meta_member(),
            (f"s/{SID1}/form.env", FORM),
            meta_member(SID2),
            ("README", b"x"),
        ]
    )
    seen: list[Any] = []

    def consume() -> Iterator[Any]:
        for item in read_bundle(io.BytesIO(data)):
            seen.append(item)
            yield item

    with pytest.raises(InvalidEnvelope):
        list(consume())
    assert len(seen) == 2  # chain, then the complete submission
    seen[1].close()


@pytest.mark.parametrize(
    "fault",
    ["before-chain", "unannounced", "size", "missing", "repeat-sid", "bad-meta"],
)
def test_writer_refuses_to_write_what_a_reader_refuses(fault: str) -> None:
    writer = BundleWriter(io.BytesIO())
    good = meta(SID1, {"form": FORM})
    if fault == "before-chain":
        with pytest.raises(ValueError):
            writer.add_submission(good, [("form", len(FORM), io.BytesIO(FORM))])
        return
    writer.add_chain(BASE_CHAIN)
    cases = {
        "unannounced": (good, [(EID, len(FORM), io.BytesIO(FORM))]),
        "size": (good, [("form", len(FORM) + 1, io.BytesIO(FORM + b"x"))]),
        "missing": (good, []),
        "bad-meta": ({**good, "kind": "letter"}, []),
    }
    if fault == "repeat-sid":
        writer.add_submission(good, [("form", len(FORM), io.BytesIO(FORM))])
        cases[fault] = (good, [("form", len(FORM), io.BytesIO(FORM))])
    m, envs = cases[fault]
    with pytest.raises(ValueError):
        writer.add_submission(m, envs)
