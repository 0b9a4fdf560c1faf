"""intake-courier and intake-verifier against the real `intake serve` process:
a pull cut mid-download resumes where it stopped, and a key rotation carries
held ciphertext to the new verifiers through signed rewraps."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import crypto
from crypto.cli import transport
from tests.support.live_server import LiveServer

from .applicant import http_json, org_server, upload
from .support import (
    PASSPHRASE,
    Attachment,
    Org,
    assert_clean_failure,
    entry,
    make_submission,
    rewrap,
    run,
)


def _manifest(
    org: Org, version: int, verifiers: Sequence[crypto.VerifierEntry], courier: crypto.Identity
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    payload = crypto.build_manifest_payload(
        version=version,
        issued=now,
        expires=now + dt.timedelta(days=30),
        org={"name": "Courier flows", "contact": "c@example.invalid"},
        threshold=2,
        admins=[a.public() for a in org.admins],
        verifiers=verifiers,
        couriers=[courier.public()],
    )
    return crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, org.admins)


@pytest.fixture
def server(
    org: Org, courier_key: tuple[Path, crypto.Identity], tmp_path: Path
) -> Iterator[LiveServer]:
    genesis = _manifest(org, 1, [entry(org.verifier)], courier_key[1])
    (tmp_path / "genesis.json").write_text(json.dumps(genesis))
    with org_server(org, tmp_path) as live:
        yield live


# --------------------------------------------------------------------------
# A line that drops: a TCP relay that cuts its first connection mid-answer


@dataclass
class CuttingRelay:
    """Relays loopback TCP to the server; the first answer is cut after
    `cut_after` bytes, as a flaky network would. Records each request's head
    and each answer's status line."""

    upstream: int
    cut_after: int
    port: int = 0
    heads: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._connections += 1
            cut = self.cut_after if self._connections == 1 else None
            threading.Thread(target=self._relay, args=(client, cut), daemon=True).start()

    def _relay(self, client: socket.socket, cut: int | None) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream))
        head = b""
        with client, upstream:
            while b"\r\n\r\n" not in head:  # urllib sends the head, then a body if any
                piece = client.recv(65536)
                if not piece:
                    return
                head += piece
            self.heads.append(head.split(b"\r\n\r\n")[0].decode("latin-1"))
            upstream.sendall(head)
            sent = 0
            first = True
            while True:
                piece = upstream.recv(65536)
                if not piece:
                    break
                if first:
                    self.statuses.append(piece.split(b"\r\n")[0].decode("latin-1"))
                    first = False
                if cut is not None and sent + len(piece) >= cut:
                    client.sendall(piece[: cut - sent])
                    client.shutdown(socket.SHUT_RDWR)  # the line drops mid-download
                    return
                client.sendall(piece)
                sent += len(piece)


def test_pull_cut_mid_download_resumes_from_the_real_server(
    org: Org, server: LiveServer, courier_key: tuple[Path, crypto.Identity], tmp_path: Path
) -> None:
    manifest = crypto.parse_manifest(json.loads((tmp_path / "genesis.json").read_text()))
    big = Attachment("scan.tiff", bytes(range(256)) * 8192)  # 2 MiB
    for sub in (make_submission(manifest, attachments=[big]), make_submission(manifest)):
        upload(server, sub)
    relay = CuttingRelay(upstream=int(server.url.rsplit(":", 1)[1]), cut_after=1_000_000)
    out = tmp_path / "bundle.tar"
    args = ["pull", "--server", relay.url, "--key", courier_key[0], "--out", out]
    try:
        first = run("courier", args)
        lines = assert_clean_failure(first, "intake-courier")
        assert "interrupted" in lines[0] and "resume" in lines[1]
        held = (tmp_path / "bundle.tar.part").stat().st_size
        assert 0 < held < 1_000_000 and not out.exists()

        second = run("courier", args)
    finally:
        relay.close()

    assert second.exit_code == 0, second.output
    assert "2 submission(s)" in second.stderr
    # (A resume signed in the same second as the cut request is refused as a
    # replay and signed again a second later: a 401 may sit between the two.)
    answered = [status for status in relay.statuses if " 401 " not in status]
    assert answered == ["HTTP/1.1 200 OK", "HTTP/1.1 206 Partial Content"]
    resumed = relay.heads[relay.statuses.index("HTTP/1.1 206 Partial Content")].lower()
    assert f"range: bytes={held}-" in resumed and 'if-range: "b1.' in resumed
    # The spliced file is exactly the bundle the server sends in one piece.
    direct = tmp_path / "direct.tar"
    again = run(
        "courier", ["pull", "--server", server.url, "--key", courier_key[0], "--out", direct]
    )
    assert again.exit_code == 0, again.output
    assert out.read_bytes() == direct.read_bytes()
    assert not list(tmp_path.glob("*.part*"))


# --------------------------------------------------------------------------
# Key rotation: rewrap held ciphertext to the new verifiers, signed


def test_rotation_moves_held_ciphertext_to_the_new_verifier_through_signed_rewraps(
    org: Org,
    server: LiveServer,
    courier_key: tuple[Path, crypto.Identity],
    keyring: Path,
    tmp_path: Path,
) -> None:
    key = courier_key[0]
    genesis = json.loads((tmp_path / "genesis.json").read_text())
    scan = Attachment("scan.pdf", b"%PDF-1.4 " + b"r" * 50_000)
    sub = make_submission(crypto.parse_manifest(genesis), attachments=[scan])
    upload(server, sub)
    # Anna retires, Boris takes over; the admins publish manifest 2.
    successor = _manifest(
        org, 2, [entry(org.verifier, "retired"), entry(org.verifier2)], courier_key[1]
    )
    http_json(f"{server.url}/api/v1/manifests", "POST", successor)
    chain_file = tmp_path / "chain.json"
    chain_file.write_text(json.dumps(http_json(f"{server.url}/api/v1/manifests")))
    before = tmp_path / "before.tar"
    assert (
        run("courier", ["pull", "--server", server.url, "--key", key, "--out", before]).exit_code
        == 0
    )

    rewraps = tmp_path / "rewraps.json"
    made = rewrap(before, keyring, chain_file, rewraps)
    assert made.exit_code == 0, made.output
    doc = json.loads(rewraps.read_text())
    assert {r["kid"] for r in doc["rewraps"]} == {org.verifier.sign_kid}
    # A courier who alters a prefix on the way is refused, and nothing changes.
    forged = tmp_path / "forged.json"
    bad = dict(doc["rewraps"][0])
    raw = bytearray(crypto.b64d(bad["prefix"]))
    raw[-40] ^= 1
    bad["prefix"] = crypto.b64e(bytes(raw))
    forged.write_text(json.dumps({"type": "intake/rewraps", "rewraps": [bad]}))
    refused = run("courier", ["push", forged, "--server", server.url, "--key", key])
    lines = assert_clean_failure(refused, "intake-courier")
    assert "HTTP 422" in lines[0] and "rewrap-invalid" in lines[0]

    pushed = run("courier", ["push", rewraps, "--server", server.url, "--key", key])
    assert pushed.exit_code == 0, pushed.output
    assert "accepted: 2" in pushed.stderr

    after = tmp_path / "after.tar"
    assert (
        run("courier", ["pull", "--server", server.url, "--key", key, "--out", after]).exit_code
        == 0
    )
    boris = tmp_path / "boris"
    boris.mkdir()
    crypto.write_key_file(boris / "boris.key", org.verifier2, PASSPHRASE)
    (boris / "trust-root.json").write_text(json.dumps(org.root.to_json()))
    cases = tmp_path / "cases"
    opened = run("verifier", ["decrypt", after, "--keyring", boris, "--out", cases])
    assert opened.exit_code == 0, opened.output
    [case] = [p for p in cases.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert (case / "attachments" / "scan.pdf").read_bytes() == scan.data
    # Boris could not have opened what the server held before the rewrap.
    refused_old = run("verifier", ["decrypt", before, "--keyring", boris, "--out", tmp_path / "x"])
    assert refused_old.exit_code == 1


def test_the_same_request_twice_in_one_second_is_signed_again_not_refused(
    server: LiveServer, courier_key: tuple[Path, crypto.Identity]
) -> None:
    # Ed25519 signatures are deterministic: two identical requests within one
    # second carry one signature, which the server refuses as a replay. The
    # tool signs again a second later (a resume right after a cut is one).
    while time.time() % 1 > 0.5:  # start early in a second: both fall in it
        time.sleep(0.05)
    started = time.monotonic()

    answers = [
        transport.request(server.url, "GET", "/api/v1/courier/submissions", signer=courier_key[1])
        for _ in range(2)
    ]

    assert [a.status for a in answers] == [200, 200]
    assert time.monotonic() - started >= 0.4  # the second one waited for a new second
