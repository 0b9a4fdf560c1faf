"""Anonymous floods against a real server: junk must not lock honest people out.

Each test starts `intake serve` with rate limiting at its defaults and proof
of work on, floods one route with junk from threads at about twice the rate
that was measured to drain it (issue 14: ~1 req/s for the mailbox, ~10 req/s
for challenges, a dozen manifest posts), and meanwhile does what an honest
applicant or admin does. Floods are bounded in count and time and stop by
themselves; nothing here asserts on timing.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FreshDatabase
from server_helpers import World, put, seal

import crypto
from tests.support.live_server import LiveServer, live_server
from tests.support.pow import solved

BITS = 8  # cheap for the honest client in Python; junk carries no proof at all
TIMEOUT = 60.0


@pytest.fixture
def server(
    fresh_databases: FreshDatabase, world: World, tmp_path: Path
) -> Iterator[tuple[LiveServer, dict[str, Any]]]:
    """A live server (rate limits at their defaults) holding a fresh genesis."""
    genesis = world.manifest(1)
    path = tmp_path / "manifest-1.json"
    path.write_text(json.dumps(genesis))
    with live_server(
        database_url=fresh_databases.new(),
        blob_dir=tmp_path / "blobs",
        log_path=tmp_path / "server.log",
        trust_root=world.trust_root(),
        genesis=path,
        INTAKE_POW_DIFFICULTY=str(BITS),
        INTAKE_MAILBOX_POW_DIFFICULTY=str(BITS),
        INTAKE_MIN_FREE_BYTES="0",
        INTAKE_RATE_LIMIT_SCALE="1",
    ) as live:
        yield live, genesis


@dataclass
class Flood:
    """Junk requests from threads at a steady rate, at most `count` each,
    until stopped or `seconds` pass. Counts the statuses it got."""

    url: str
    send: Callable[[httpx.Client], httpx.Response]
    per_second: float
    count: int
    threads: int = 2
    seconds: float = 45.0
    statuses: Counter[int] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _run(self) -> None:
        deadline = time.monotonic() + self.seconds
        gap = self.threads / self.per_second
        with httpx.Client(base_url=self.url, timeout=TIMEOUT) as http:
            for _ in range(self.count):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                started = time.monotonic()
                try:
                    status = self.send(http).status_code
                except httpx.TransportError:
                    status = 0
                with self._lock:
                    self.statuses[status] += 1
                self._stop.wait(max(0.0, gap - (time.monotonic() - started)))

    def sent(self) -> int:
        with self._lock:
            return sum(self.statuses.values())

    def __enter__(self) -> Flood:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def wait_for(self, sent: int) -> None:
        """Until the flood has sent `sent` requests (bounded by its own limits)."""
        while self.sent() < sent and any(w.is_alive() for w in self._workers):
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=TIMEOUT)


# Junk of each kind: no proof of work, a bad one, or an unsigned document.
def junk_mailbox(http: httpx.Client) -> httpx.Response:
    return http.post("/api/v1/mailbox", json={"token": crypto.b64e(secrets.token_bytes(32))})


def junk_challenge(http: httpx.Client) -> httpx.Response:
    path = "/api/v1/challenges" if secrets.randbelow(2) else "/api/v1/mailbox/challenges"
    return http.post(path)


def junk_submission(http: httpx.Client) -> httpx.Response:
    bad = {"challenge": "v1." + "0" * 32 + ".1.8." + "0" * 64, "nonce": "0"}
    body = {"kind": "submission", "envelopes": [{"id": "form", "size": 100}], "pow": bad}
    return http.post("/api/v1/submissions", json=body)


def junk_manifest(http: httpx.Client) -> httpx.Response:
    return http.post(
        "/api/v1/manifests", json={"payloadType": "x", "payload": "", "signatures": []}
    )


def junk_upload(http: httpx.Client) -> httpx.Response:
    return http.put(
        f"/api/v1/submissions/{secrets.token_hex(16)}/envelopes/form?offset=0",
        content=b"x",
        headers={"Content-Type": "application/octet-stream"},
    )


# What honest people do.
def honest_mailbox_check(http: httpx.Client) -> httpx.Response:
    issued = http.post("/api/v1/mailbox/challenges")
    assert issued.status_code == 200, issued.text
    proof = solved(issued.json())
    return http.post(
        "/api/v1/mailbox", json={"token": crypto.b64e(secrets.token_bytes(32)), "pow": proof}
    )


def honest_submission(http: httpx.Client, genesis: dict[str, Any]) -> str:
    """Challenge, proof, declare, upload, finalise; returns the status of finalise."""
    form = seal(genesis, b"an honest report")
    issued = http.post("/api/v1/challenges")
    assert issued.status_code == 200, issued.text
    proof = solved(issued.json())
    body = {"kind": "submission", "envelopes": [{"id": "form", "size": len(form)}], "pow": proof}
    created = http.post("/api/v1/submissions", json=body)
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    uploaded = put(http, sid, "form", 0, form)
    assert uploaded.status_code == 200, uploaded.text
    final = http.post(f"/api/v1/submissions/{sid}/finalise")
    assert final.status_code == 200, final.text
    status: str = final.json()["status"]
    return status


def revocation(world: World) -> dict[str, Any]:
    """Manifest 2: the second verifier's key revoked, signed by two admins."""
    return world.manifest(2, active=world.verifiers[:1], retired=world.verifiers[1:2])


def test_junk_mailbox_posts_do_not_lock_honest_mailbox_checks_out(
    server: tuple[LiveServer, dict[str, Any]],
) -> None:
    live, _ = server
    # ~1 req/s drained it; twice that, past the burst first.
    with Flood(live.url, junk_mailbox, per_second=4, count=120) as flood:
        flood.wait_for(30)
        with httpx.Client(base_url=live.url, timeout=TIMEOUT) as http:
            answers = [honest_mailbox_check(http) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert all(a.json() == {"replies": []} for a in answers)
    # Junk without a proof is refused for what it is, not rate limited.
    assert set(flood.statuses) == {403}, flood.statuses


def test_junk_challenge_requests_do_not_shut_challenges(
    server: tuple[LiveServer, dict[str, Any]],
) -> None:
    live, genesis = server
    # ~10 req/s drained it (burst 120); twice that, past the burst first.
    with Flood(live.url, junk_challenge, per_second=25, count=600, threads=3) as flood:
        flood.wait_for(200)
        with httpx.Client(base_url=live.url, timeout=TIMEOUT) as http:
            assert honest_submission(http, genesis) == "complete"
            assert honest_mailbox_check(http).status_code == 200
    assert set(flood.statuses) == {200}, flood.statuses


def test_junk_manifest_posts_do_not_block_a_signed_revocation(
    server: tuple[LiveServer, dict[str, Any]], world: World
) -> None:
    live, _ = server
    # Twelve junk posts were enough; keep them coming while the admins post.
    with Flood(live.url, junk_manifest, per_second=4, count=80) as flood:
        flood.wait_for(20)
        with httpx.Client(base_url=live.url, timeout=TIMEOUT) as http:
            accepted = http.post("/api/v1/manifests", json=revocation(world))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["version"] == 2
    assert 422 in flood.statuses


def test_junk_submissions_and_uploads_do_not_block_an_honest_submission(
    server: tuple[LiveServer, dict[str, Any]],
) -> None:
    live, genesis = server
    # submissions.create held 60 then 5/s; uploads 600 then 100/s.
    with (
        Flood(live.url, junk_submission, per_second=12, count=400) as creates,
        Flood(live.url, junk_upload, per_second=250, count=1500, threads=4) as uploads,
    ):
        creates.wait_for(80)
        uploads.wait_for(700)
        with httpx.Client(base_url=live.url, timeout=TIMEOUT) as http:
            assert honest_submission(http, genesis) == "complete"
    assert 429 not in creates.statuses, creates.statuses
    assert 429 not in uploads.statuses, uploads.statuses


def test_every_flood_at_once_leaves_mailbox_submission_and_revocation_working(
    server: tuple[LiveServer, dict[str, Any]], world: World
) -> None:
    live, genesis = server
    with (
        Flood(live.url, junk_mailbox, per_second=4, count=150) as mailbox,
        Flood(live.url, junk_challenge, per_second=25, count=800, threads=3) as challenges,
        Flood(live.url, junk_submission, per_second=12, count=400) as creates,
        Flood(live.url, junk_manifest, per_second=4, count=150) as manifests,
    ):
        for flood, sent in ((mailbox, 30), (challenges, 200), (creates, 80), (manifests, 20)):
            flood.wait_for(sent)
        with httpx.Client(base_url=live.url, timeout=TIMEOUT) as http:
            checks = [honest_mailbox_check(http).status_code for _ in range(2)]
            done = honest_submission(http, genesis)
            revoked = http.post("/api/v1/manifests", json=revocation(world))
    assert checks == [200, 200]
    assert done == "complete"
    assert revoked.status_code == 201, revoked.text
