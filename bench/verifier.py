"""Verifier benchmarks: `intake-verifier decrypt` beside raw PyNaCl, in one process.

Bundles are built with the crypto API (`crypto.seal`, `crypto.BundleWriter`)
as setup; only the decryption is timed. The tool runs in this process (its
Click command, as the console script calls it), so the baseline and the tool
share the interpreter, the page cache holding the bundle, and the disk.
"""

from __future__ import annotations

import cProfile
import gc
import hashlib
import io
import json
import os
import pstats
import shutil
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl import bindings as sodium

import crypto
from bench.results import Headline, Measurement, Target
from harness.demo import DEMO_PASSPHRASE as PASSPHRASE

MiB = 2**20
RECEIVED = "2026-11-22T10:00:00Z"
LABEL_PAYLOAD = b"intake/v1/payload"
VERIFIER_TARGET = Target("≥ 70 % of raw PyNaCl", ">=", 0.70)


class Pattern(io.RawIOBase):
    """`size` bytes of test content without holding them: a random 1 MiB block
    repeated, after a short head naming the attachment. Ciphertext is random
    whatever the plaintext, so this costs the cipher the same as any file."""

    def __init__(self, size: int, head: bytes, block: bytes) -> None:
        super().__init__()
        self._data = head + block
        self._size = size
        self._pos = 0
        self._block = block
        self._head = len(head)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = min(len(view), self._size - self._pos)
        done = 0
        while done < count:
            if self._pos < self._head:
                start = self._pos
            else:
                start = self._head + (self._pos - self._head) % len(self._block)
            piece = min(count - done, len(self._data) - start)
            view[done : done + piece] = self._data[start : start + piece]
            done += piece
            self._pos += piece
        return count


@dataclass
class Built:
    bundle: Path
    envelopes: list[Path]  # every envelope, as sealed files (the raw baseline reads these)
    submissions: int
    ciphertext: int  # bytes of envelopes


def _chain(org: Any) -> list[dict[str, Any]]:
    chain: list[dict[str, Any]] = json.loads((org.folder / "chain.json").read_text())["chain"]
    return chain


def _form(
    org: Any, sid: str, refs: list[dict[str, Any]], text: str, out: Path
) -> tuple[int, bytes]:
    content = {
        "v": 2,
        "lang": "en",
        "form": {"id": "basic-intake", "version": 1},
        "answers": {"story": text, "contact": "signal +000 0000"},
        "attachments": refs,
        "sent": RECEIVED,
    }
    data = json.dumps(content).encode()
    sealed = crypto.seal_bytes(
        data, kind="submission", manifest=org.manifest.ref, recipients=org.recipients
    )
    out.write_bytes(sealed)
    return len(sealed), crypto.payload_digest(io.BytesIO(sealed))


def build_bundle(
    org: Any, folder: Path, submissions: int, attachment_bytes: int, keep_envelopes: bool
) -> Built:
    """`submissions` submissions, each a form and (if `attachment_bytes`) one
    attachment of that many content bytes; returns the bundle and envelopes."""
    folder.mkdir(parents=True, exist_ok=True)
    block = os.urandom(MiB)
    paths: list[Path] = []
    total = 0
    bundle = folder / "bundle.tar"
    with bundle.open("wb") as raw, crypto.BundleWriter(raw) as writer:
        writer.add_chain(_chain(org))
        for n in range(submissions):
            sid = f"{n:032x}"
            refs: list[dict[str, Any]] = []
            envelopes: list[tuple[str, int, bytes, Path]] = []
            if attachment_bytes:
                aid = hashlib.blake2b(sid.encode(), digest_size=16).hexdigest()
                path = folder / f"{sid}.{aid}.env"
                source = Pattern(attachment_bytes, f"attachment {aid}\n".encode(), block)
                with path.open("wb") as out:
                    sealed = crypto.seal(
                        io.BufferedReader(source),
                        attachment_bytes,
                        out,
                        kind="attachment",
                        manifest=org.manifest.ref,
                        recipients=org.recipients,
                    )
                refs.append(
                    {
                        "id": aid,
                        "name": f"video-{n}.mp4",
                        "type": "video/mp4",
                        "size": attachment_bytes,
                        "digest": crypto.b64e(sealed.payload_digest),
                    }
                )
                envelopes.append((aid, sealed.envelope_size, sealed.payload_digest, path))
            form_path = folder / f"{sid}.form.env"
            size, digest = _form(
                org, sid, refs, f"submission {n}: what happened, briefly.", form_path
            )
            envelopes.insert(0, ("form", size, digest, form_path))
            meta = {
                "id": sid,
                "kind": "submission",
                "received": RECEIVED,
                "envelopes": [
                    {"id": eid, "size": size, "digest": crypto.b64e(digest)}
                    for eid, size, digest, _ in envelopes
                ],
            }
            with ExitFiles([path for *_, path in envelopes]) as files:
                writer.add_submission(
                    meta,
                    [
                        (eid, size, fh)
                        for (eid, size, _, _), fh in zip(envelopes, files, strict=True)
                    ],
                )
            total += sum(size for _, size, _, _ in envelopes)
            if keep_envelopes:
                paths += [path for *_, path in envelopes]
            else:
                for *_, path in envelopes:
                    path.unlink()
    return Built(bundle, paths, submissions, total)


class ExitFiles:
    """Open several files for reading and close them all afterwards."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = paths
        self._files: list[Any] = []

    def __enter__(self) -> list[Any]:
        self._files = [path.open("rb") for path in self._paths]
        return self._files

    def __exit__(self, *exc: object) -> None:
        for fh in self._files:
            fh.close()


# -- the two sides -------------------------------------------------------------------------


def raw_open(path: Path, public: bytes, secret: bytes) -> int:
    """The least any verifier must do, straight on PyNaCl: open the sealed key,
    derive the payload key, pull every secretstream chunk (plaintext dropped).
    No header MAC, no digest, no padding check, nothing written."""
    total = 0
    with path.open("rb", buffering=0) as src:
        fixed = src.read(12)
        header = json.loads(src.read(int.from_bytes(fixed[8:12], "big")))
        src.read(32)
        key = None
        for recipient in header["recipients"]:
            try:
                key = sodium.crypto_box_seal_open(crypto.b64d(recipient["sealed"]), public, secret)
                break
            except Exception:  # noqa: S112 -- not ours: try the next recipient
                continue
        if key is None:
            raise RuntimeError("no recipient opens")
        payload_key = sodium.crypto_generichash_blake2b_salt_personal(
            LABEL_PAYLOAD, digest_size=32, key=key
        )
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(
            state, crypto.b64d(header["stream"]), payload_key
        )
        step = header["chunk"] + 17
        while block := src.read(step):
            plain, _tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, block, None)
            total += len(plain)
    return total


def run_tool(bundle: Path, keyring: Path, out: Path) -> None:
    """`intake-verifier decrypt BUNDLE --keyring DIR --out OUT`, in this process."""
    from crypto.cli.verifier import PROG, cli

    os.environ["INTAKE_PASSPHRASE"] = PASSPHRASE
    if out.exists():
        shutil.rmtree(out)
    cli.main(
        ["decrypt", str(bundle), "--keyring", str(keyring), "--out", str(out)],
        prog_name=PROG,
        standalone_mode=False,
    )


@contextmanager
def _quiet_stderr(path: Path) -> Iterator[None]:
    """The tool's summary table goes to a file, not the benchmark's output."""
    saved = os.dup(2)
    with path.open("ab") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _timed(fn: Any, *args: Any) -> float:
    gc.collect()
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def _unlock_seconds(keyring: Path) -> float:
    """The Argon2id unlock of the keyring, which the tool does once per run."""
    started = time.perf_counter()
    crypto.read_key_file(keyring / "verifier.key", PASSPHRASE)
    return time.perf_counter() - started


def _profile(bundle: Path, keyring: Path, out: Path, log: Path) -> list[str]:
    """Where the tool's time goes: cProfile, own time per function, top lines."""
    profiler = cProfile.Profile()
    with _quiet_stderr(log):
        profiler.runcall(run_tool, bundle, keyring, out)
    table: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    # The keyring's Argon2id unlock is excluded: it is timed on its own.
    rows = [(where, row) for where, row in table.items() if "crypto_pwhash" not in where[2]]
    total = sum(row[2] for _, row in rows)
    rows.sort(key=lambda item: item[1][2], reverse=True)
    lines = []
    for (filename, line, name), (_cc, calls, own, _cum, _callers) in rows[:8]:
        where = f"{Path(filename).name}:{line}" if line else filename
        lines.append(f"{100 * own / total:4.1f} % in `{name}` ({where}, {calls} calls)")
    return lines


def _keys(ctx: Any) -> tuple[Any, bytes, bytes]:
    org = ctx.org()
    verifier = org.verifier
    return org, verifier.x25519_public, verifier.x25519_secret


def bulk(ctx: Any) -> Measurement:
    """1 GB of submissions: the tool's decrypt throughput against raw PyNaCl."""
    org, public, secret = _keys(ctx)
    count, each = (2, 32 * MiB) if ctx.quick else (5, 200 * MiB)
    work = ctx.folder("verifier-bulk")
    ctx.log(f"setup: sealing {count} x {each // MiB} MiB into a bundle")
    built = build_bundle(org, work / "data", count, each, keep_envelopes=True)
    keyring = org.folder / "keyring"
    log = work / "tool.log"

    unlock = _unlock_seconds(keyring)
    raw_times, tool_times = [], []
    rounds = 1 if ctx.quick else 3
    for n in range(rounds):
        raw_times.append(_timed(lambda: [raw_open(p, public, secret) for p in built.envelopes]))
        with _quiet_stderr(log):
            tool_times.append(_timed(run_tool, built.bundle, keyring, work / f"out-{n}"))
        shutil.rmtree(work / f"out-{n}", ignore_errors=True)
    raw_s = statistics.median(raw_times)
    tool_s = statistics.median(tool_times)
    tool_net = max(tool_s - unlock, 1e-9)
    mb = built.ciphertext / 1e6
    tar_mb = built.bundle.stat().st_size / 1e6
    ratio = raw_s / tool_net
    profile = []
    if ratio < VERIFIER_TARGET.value:
        slice_dir = work / "slice"
        piece = build_bundle(org, slice_dir, 1, min(each, 100 * MiB), keep_envelopes=False)
        profile = _profile(piece.bundle, keyring, work / "out-profile", log)
        shutil.rmtree(slice_dir, ignore_errors=True)
        shutil.rmtree(work / "out-profile", ignore_errors=True)
    shutil.rmtree(work / "data", ignore_errors=True)

    table = [
        ["", "seconds", "MB/s", "share of raw"],
        [
            f"raw PyNaCl secretstream (baseline), {count} envelopes",
            f"{raw_s:.2f}",
            f"{mb / raw_s:.0f}",
            "100 %",
        ],
        [
            "`intake-verifier decrypt`, keyring unlock excluded",
            f"{tool_net:.2f}",
            f"{mb / tool_net:.0f}",
            f"{100 * ratio:.0f} %",
        ],
        [
            "`intake-verifier decrypt`, whole command",
            f"{tool_s:.2f}",
            f"{mb / tool_s:.0f}",
            f"{100 * raw_s / tool_s:.0f} %",
        ],
        ["keyring unlock (Argon2id, ops 3, 256 MiB; once per run)", f"{unlock:.2f}", "", ""],
    ]
    notes = [
        f"Bundle: {count} submissions, each a form and one attachment of "
        f"{each / MiB:.0f} MiB content; {mb:.0f} MB of envelopes, "
        f"{tar_mb:.0f} MB tar (built with `crypto.seal` and "
        "`crypto.BundleWriter`, not timed).",
        f"Median of {rounds} alternating round(s) each; all rounds: raw "
        + ", ".join(f"{t:.2f}" for t in raw_times)
        + " s; tool "
        + ", ".join(f"{t:.2f}" for t in tool_times)
        + " s.",
    ]
    if profile:
        notes.append(
            "Profile of the tool on one submission of up to 100 MiB (cProfile, own time, "
            "keyring unlock excluded): " + "; ".join(profile)
        )
    return Measurement(
        title="Verifier: decrypt a 1 GB bundle",
        headline=Headline.share(
            item="Verifier: 1 GB bundle decrypt",
            ours=f"{mb / tool_net:.0f} MB/s",
            baseline=f"{mb / raw_s:.0f} MB/s raw PyNaCl",
            ratio=ratio,
            of="raw",
            target=VERIFIER_TARGET,
        ),
        table=table,
        method=(
            "The bundle is read from the page cache by both sides (it was just written). "
            "Baseline: for every envelope, `crypto_box_seal_open` of the key, BLAKE2b "
            "payload key, and `crypto_secretstream_xchacha20poly1305_pull` of every chunk "
            "through PyNaCl's bindings, plaintext dropped. Ours: the `intake-verifier "
            "decrypt` command run in the same process (Click `standalone_mode=False`), "
            "writing the case folders to disk, including every check it makes (chain, "
            "header MAC, payload digest, padding, attachment digests) and its fsyncs. The "
            "keyring's Argon2id unlock is timed separately and subtracted; the whole "
            "command's figure is shown too."
        ),
        notes=notes,
        analysis=ANALYSIS_BULK,
    )


def many(ctx: Any) -> Measurement:
    """10,000 small submissions: the tool's time per case against raw PyNaCl."""
    org, public, secret = _keys(ctx)
    count = 1000 if ctx.quick else 10_000
    work = ctx.folder("verifier-many")
    ctx.log(f"setup: sealing {count} small submissions into a bundle")
    built = build_bundle(org, work / "data", count, 0, keep_envelopes=True)
    keyring = org.folder / "keyring"
    unlock = _unlock_seconds(keyring)
    raw_s = _timed(lambda: [raw_open(p, public, secret) for p in built.envelopes])
    with _quiet_stderr(work / "tool.log"):
        tool_s = _timed(run_tool, built.bundle, keyring, work / "out")
    cases = sum(1 for p in (work / "out").iterdir() if p.is_dir() and not p.name.startswith("."))
    tar_mb = built.bundle.stat().st_size / 1e6
    sample = build_bundle(org, work / "sample", 200, 0, keep_envelopes=False)
    profile = _profile(sample.bundle, keyring, work / "out-profile", work / "tool.log")
    shutil.rmtree(work, ignore_errors=True)
    tool_net = tool_s - unlock
    table = [
        ["", "seconds", "per submission", "submissions/s"],
        [
            "raw PyNaCl (baseline): seal_open + secretstream pull",
            f"{raw_s:.2f}",
            f"{1000 * raw_s / count:.2f} ms",
            f"{count / raw_s:.0f}",
        ],
        [
            f"`intake-verifier decrypt` ({cases} case folders written)",
            f"{tool_s:.2f}",
            f"{1000 * tool_net / count:.2f} ms",
            f"{count / tool_net:.0f}",
        ],
    ]
    return Measurement(
        title=f"Verifier: {count:,} small submissions",
        headline=Headline(
            item=f"Verifier: {count:,} small submissions",
            ours=f"{tool_s:.1f} s",
            baseline=f"{raw_s:.1f} s raw PyNaCl",
            figure=tool_s,
            shown=f"{tool_s:.1f} s ({1000 * tool_net / count:.1f} ms each)",
        ),
        table=table,
        method=(
            f"A bundle of {count:,} submissions, each one form envelope "
            "(about 300 bytes of answers), built with the crypto API (not timed). Ours: "
            "`intake-verifier decrypt` in this process, which verifies the chain, opens "
            "every envelope and writes a case folder (answers, case.json, an HTML view) "
            "per submission. Baseline: the same envelopes opened with PyNaCl alone. The "
            "per-submission figure excludes the keyring's one Argon2id unlock "
            f"({unlock:.2f} s); the seconds column includes it."
        ),
        notes=[
            f"Bundle size {tar_mb:.1f} MB.",
            "Profile of the tool on 200 of these submissions (cProfile, own time, keyring "
            "unlock excluded): " + "; ".join(profile),
        ],
    )


ANALYSIS_BULK = """\
The raw baseline decrypts in memory and writes nothing; the verifier must also
check the payload digest (BLAKE2b over every envelope byte, PROTOCOL.md v2),
write the plaintext and fsync it before a case folder appears. A profile of
100 MiB after this session's changes: BLAKE2b 108 ms, secretstream pull
103 ms, fsync 62 ms, writing 45 ms, reading about 30 ms. The digest alone
costs as much as the whole of what raw PyNaCl does, so on one thread the
ceiling is near a third of raw, whatever else is cut.

Already done: BLAKE2b through `hashlib.blake2b` (libsodium's bundled BLAKE2b
ran at about 230 MB/s here against about 550 MB/s; the output is identical,
checked by tests/crypto/test_blake2b_equivalence.py); bundle members read in
place instead of spooled to temporary files; attachments decrypted straight
into the staging folder instead of spool-then-copy. Hashing in a second
thread beside the decryption was tried and made no reliable difference on
this two-core machine; it might on a laptop with more cores.
"""
