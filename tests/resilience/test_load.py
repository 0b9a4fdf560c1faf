"""Many clients at once for a while: nothing fails except on purpose.

Every client loops through what an applicant's page does (fetch the manifest
chain, get a proof-of-work challenge, declare a submission, upload it, check
progress, finalise), and now and then what the page's mailbox and a plain
visitor do. Rate limiting and proof of work are on, at their defaults, so
429 is expected and waited out (Retry-After); 503 likewise. Any other error,
a timeout or a broken connection is a failure. Afterwards every acknowledged
submission is listed and opens.
"""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
import statistics
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from app.pow import solve
from tests.resilience.conftest import FULL, Figures
from tests.resilience.support import (
    DemoOrg,
    Prepared,
    ServerProcess,
    canary_hits,
    check_acknowledged,
    database_files,
    new_canary,
    prepare_submission,
)

CLIENTS, SECONDS = (200, 60.0) if FULL else (20, 10.0)
INTENDED = {429, 503}


class Load:
    def __init__(self, org: DemoOrg, url: str, until: float) -> None:
        self.org = org
        self.url = url
        self.until = until
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.acknowledged: dict[str, Prepared] = {}
        self.waits = 0

    async def call(
        self, http: httpx.AsyncClient, name: str, method: str, path: str, **kw: Any
    ) -> Any:
        """One request; waits out 429/503 as a page would. None once time is up."""
        while time.monotonic() < self.until:
            started = time.monotonic()
            try:
                response = await http.request(method, path, **kw)
            except httpx.TransportError as exc:
                self.errors[f"{name}: {type(exc).__name__}"] += 1
                return None
            self.latency[name].append(time.monotonic() - started)
            self.statuses[response.status_code] += 1
            if response.status_code in INTENDED:
                self.waits += 1
                retry = response.headers.get("retry-after", "1")
                await asyncio.sleep(min(3.0, float(retry) if retry.isdigit() else 1.0))
                continue
            if response.status_code >= 400:
                self.errors[f"{name}: {response.status_code} {response.text[:120]}"] += 1
                return None
            return response
        return None

    async def client(self, number: int) -> None:
        rng = random.Random(number)
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:
            while time.monotonic() < self.until:
                if rng.random() < 0.1:
                    await self.call(http, "page", "GET", "/")
                if rng.random() < 0.1:
                    await self.mailbox(http)
                await self.submission(http, rng)

    async def mailbox(self, http: httpx.AsyncClient) -> None:
        """A check for replies, as the page's mailbox makes it (a proof of work each)."""
        issued = await self.call(http, "mailbox-challenge", "POST", "/api/v1/mailbox/challenges")
        if issued is None:
            return
        challenge = issued.json()
        nonce = await asyncio.to_thread(solve, challenge["challenge"], challenge["difficulty"])
        token = base64.b64encode(secrets.token_bytes(32)).decode()
        body = {"token": token, "pow": {"challenge": challenge["challenge"], "nonce": nonce}}
        await self.call(http, "mailbox", "POST", "/api/v1/mailbox", json=body)

    async def submission(self, http: httpx.AsyncClient, rng: random.Random) -> None:
        if await self.call(http, "manifests", "GET", "/api/v1/manifests") is None:
            return
        sizes = [rng.randint(1024, 96 * 1024)] if rng.random() < 0.5 else []
        prepared = prepare_submission(self.org, new_canary(), sizes, rng)
        issued = await self.call(http, "challenge", "POST", "/api/v1/challenges")
        if issued is None:
            return
        challenge = issued.json()
        nonce = await asyncio.to_thread(solve, challenge["challenge"], challenge["difficulty"])
        body = {
            "kind": "submission",
            "mailbox": None,
            "envelopes": [{"id": e, "size": len(d)} for e, d in prepared.envelopes.items()],
            "pow": {"challenge": challenge["challenge"], "nonce": nonce},
        }
        created = await self.call(http, "create", "POST", "/api/v1/submissions", json=body)
        if created is None:
            return
        sid = created.json()["id"]
        for eid, data in prepared.envelopes.items():
            path = f"/api/v1/submissions/{sid}/envelopes/{eid}"
            headers = {"Content-Type": "application/octet-stream"}
            put = await self.call(
                http, "put", "PUT", f"{path}?offset=0", content=data, headers=headers
            )
            if put is None or await self.call(http, "progress", "GET", path) is None:
                return
        final = await self.call(http, "finalise", "POST", f"/api/v1/submissions/{sid}/finalise")
        if final is not None and final.json()["status"] == "complete":
            self.acknowledged[sid] = prepared

    async def run(self, clients: int) -> None:
        await asyncio.gather(*(self.client(n) for n in range(clients)))


def _ms(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def test_concurrent_clients_see_no_errors_beyond_intended_429_and_503(
    org: DemoOrg, database_url: str, tmp_path: Path, figures: Figures
) -> None:
    server = ServerProcess(
        org,
        database_url,
        tmp_path / "blobs",
        tmp_path / "server.log",
        initialise=False,
        INTAKE_POW_DIFFICULTY="8",
        INTAKE_MIN_FREE_BYTES="0",
    )
    server.start()
    try:
        load = Load(org, server.url, time.monotonic() + SECONDS)
        # A thread of its own: Playwright's sync API, used by earlier tests in
        # the same process, keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, load.run(CLIENTS)).result()
        _report(load, figures, database_url)
        assert dict(load.errors) == {}, f"errors under load; server log:\n{_log_errors(server)}"
        assert load.acknowledged, "no submission got through"
        opened = check_acknowledged(org, server.url, load.acknowledged)
        figures["verified"] = len(opened)
    finally:
        server.stop()
    print(f"\nload: {figures.values}")
    hits = canary_hits(
        [p.canary for p in load.acknowledged.values()],
        [*database_files(database_url, tmp_path), server.blob_dir, server.log_path],
    )
    figures["canary_hits"] = len(hits)
    assert hits == []


def _log_errors(server: ServerProcess) -> str:
    """The distinct error lines of the server's log, counted (not the tracebacks)."""
    lines = server.log_path.read_text(errors="replace").splitlines()
    counted = Counter(line[:160] for line in lines if "Error" in line and not line.startswith(" "))
    return "\n".join(f"{n:5d} x {line}" for line, n in counted.most_common(10))


def _report(load: Load, figures: Figures, database_url: str) -> None:
    every = [v for values in load.latency.values() for v in values]
    figures.update(
        db=database_url.split(":", 1)[0].split("+", 1)[0],
        clients=CLIENTS,
        seconds=SECONDS,
        requests=sum(load.statuses.values()),
        statuses=dict(sorted(load.statuses.items())),
        errors=sum(load.errors.values()),
        acknowledged=len(load.acknowledged),
        p50_ms=_ms(every, 0.5),
        p99_ms=_ms(every, 0.99),
        put_p99_ms=_ms(load.latency["put"], 0.99),
        mean_ms=round(1000 * statistics.fmean(every), 1) if every else 0,
    )
    if load.errors:
        figures["error_kinds"] = dict(load.errors.most_common(5))
