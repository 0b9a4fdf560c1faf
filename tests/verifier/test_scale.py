"""A big bundle (1,000 submissions, one 100 MB attachment) decrypts with a
progress bar in flat memory: the tool streams, it never holds an envelope."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import crypto
from tests.cli.support import PASSPHRASE, signed_genesis, write_keyring

pytestmark = pytest.mark.slow

BIG = 100 * 2**20
SUBMISSIONS = 1000
TOOL = Path(sys.executable).parent / "intake-verifier"


class Pattern(io.RawIOBase):
    """`size` bytes of a repeating pattern, read like a file, never held whole."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.left = size
        self.block = bytes(range(256)) * 256

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left, len(self.block))
        buffer[:n] = self.block[:n]
        self.left -= n
        return n


def _form(manifest: crypto.Manifest, n: int, attachments: list[dict[str, Any]]) -> bytes:
    content = {
        "v": 2,
        "lang": "ru",
        "form": {"id": "deserter-intake", "version": 1},
        "answers": {"name": f"Заявитель {n}", "story": "текст " * 50},
        "attachments": attachments,
        "sent": "2026-11-22T10:00:00Z",
    }
    recipients = [v.x25519 for v in manifest.active_verifiers()]
    return crypto.seal_bytes(
        json.dumps(content, ensure_ascii=False).encode(),
        kind="submission",
        manifest=manifest.ref,
        recipients=recipients,
    )


def _meta(sid: str, envelopes: list[tuple[str, int, bytes]]) -> dict[str, Any]:
    return {
        "id": sid,
        "kind": "submission",
        "received": "2026-11-22T10:00:00Z",
        "envelopes": [
            {"id": eid, "size": size, "digest": crypto.b64e(digest)}
            for eid, size, digest in envelopes
        ],
    }


def _sid(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("scale")
    admins = [crypto.generate_identity("admin", f"admin-{n}") for n in (1, 2)]
    verifier = crypto.generate_identity("verifier", "anna")
    genesis = signed_genesis(admins, [verifier], org_name="Scale")
    root = crypto.TrustRoot(2, frozenset(a.sign_kid for a in admins))
    keyring = write_keyring(base / "keyring", "anna", verifier, root)
    return {"base": base, "genesis": genesis, "keyring": keyring}


def _small_bundle(deployment: dict[str, Any], path: Path) -> Path:
    manifest = crypto.parse_manifest(deployment["genesis"])
    form = _form(manifest, 0, [])
    digest = crypto.payload_digest(io.BytesIO(form))
    with path.open("wb") as out, crypto.BundleWriter(out) as writer:
        writer.add_chain([deployment["genesis"]])
        writer.add_submission(
            _meta(_sid(1), [("form", len(form), digest)]), [("form", len(form), io.BytesIO(form))]
        )
    return path


def _big_bundle(deployment: dict[str, Any], path: Path) -> Path:
    """1,000 submissions; the first carries a 100 MB attachment, sealed and
    written as streams (never in memory)."""
    manifest = crypto.parse_manifest(deployment["genesis"])
    recipients = [v.x25519 for v in manifest.active_verifiers()]
    sealed = path.with_suffix(".att")
    with sealed.open("wb") as dst:
        result = crypto.seal(
            Pattern(BIG), BIG, dst, kind="attachment", manifest=manifest.ref, recipients=recipients
        )
    att_id = "a" * 32
    reference = {
        "id": att_id,
        "name": "video.mp4",
        "type": "video/mp4",
        "size": BIG,
        "digest": crypto.b64e(result.payload_digest),
    }
    with path.open("wb") as out, crypto.BundleWriter(out) as writer:
        writer.add_chain([deployment["genesis"]])
        for n in range(SUBMISSIONS):
            form = _form(manifest, n, [reference] if n == 0 else [])
            envelopes = [("form", len(form), crypto.payload_digest(io.BytesIO(form)))]
            files: list[tuple[str, int, Any]] = [("form", len(form), io.BytesIO(form))]
            if n == 0:
                envelopes.append((att_id, result.envelope_size, result.payload_digest))
                files.append((att_id, result.envelope_size, sealed.open("rb")))
            writer.add_submission(_meta(_sid(n + 1), envelopes), files)
            for _eid, _size, handle in files:
                handle.close()
    sealed.unlink()
    return path


def _vm(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _decrypt(deployment: dict[str, Any], bundle: Path, out: Path) -> tuple[int, str]:
    """(peak RSS in KiB while decrypting, stderr) of `intake-verifier decrypt --progress`.

    Opening the key file costs Argon2id's 256 MiB (PROTOCOL.md's floor) and
    would hide anything smaller in a whole-process peak (`getrusage`), so the
    kernel's high-water mark is reset once the bar appears (the key is open
    by then) and sampled until the tool exits.
    """
    proc = subprocess.Popen(
        [
            str(TOOL),
            "decrypt",
            str(bundle),
            "--keyring",
            str(deployment["keyring"]),
            "--out",
            str(out),
            "--progress",
        ],
        env={**os.environ, "INTAKE_PASSPHRASE": PASSPHRASE, "COLUMNS": "120"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    chunks: list[bytes] = []
    started = threading.Event()

    def pump() -> None:
        assert proc.stderr is not None
        while piece := proc.stderr.read1(65536):
            chunks.append(piece)
            if b"decrypting" in b"".join(chunks[-2:]):
                started.set()
        started.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    assert started.wait(300), "no progress bar appeared"
    Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    peak = 0
    while proc.poll() is None:
        for field in ("VmHWM", "VmRSS"):
            peak = max(peak, _vm(proc.pid, field) or 0)
        time.sleep(0.01)
    reader.join(30)
    proc.stderr.close()
    stderr = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, stderr[-3000:]
    return peak, stderr


def test_big_bundle_decrypts_with_a_progress_bar_in_flat_memory(
    deployment: dict[str, Any],
) -> None:
    base: Path = deployment["base"]
    small_peak, _ = _decrypt(deployment, _small_bundle(deployment, base / "small.tar"), base / "s")
    bundle = _big_bundle(deployment, base / "big.tar")
    out = base / "cases"

    peak, stderr = _decrypt(deployment, bundle, out)

    cases = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(cases) == SUBMISSIONS
    video = out / _sid(1) / "attachments" / "video.mp4"
    assert video.stat().st_size == BIG
    with video.open("rb") as got:
        assert got.read(65536) == Pattern(BIG).block
        got.seek(BIG - 65536)
        assert got.read() == Pattern(BIG).block
    assert f"{SUBMISSIONS} submission(s) opened" in stderr
    # The bar (Rich, on stderr, drawn because --progress forces it): its label
    # with the running case count, and the byte counter.
    assert "decrypting" in stderr and "case(s)" in stderr and "MB" in stderr
    # Flat memory: opening 100 MB and 1,000 cases costs far less than 100 MB
    # over opening one small case.
    growth_mib = (peak - small_peak) / 1024
    assert growth_mib < 40, (peak, small_peak)
