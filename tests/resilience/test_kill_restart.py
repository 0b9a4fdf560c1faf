"""Uploads while the server is killed with SIGKILL at random moments and restarted.

The promise: a submission the server acknowledged (finalise answered
`complete`) is stored whole and opens with the verifier's key, after any
number of crashes; a submission it did not acknowledge is never visible to a
courier half-stored. Clients resume as the page does: GET the offset, PUT the
rest, finalise.
"""

from __future__ import annotations

import io
import itertools
import random
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import crypto
from tests.resilience.conftest import FULL, Figures
from tests.resilience.support import (
    ClientStats,
    DemoOrg,
    Prepared,
    ResumingClient,
    ServerProcess,
    canary_hits,
    check_acknowledged,
    database_files,
    new_canary,
    prepare_submission,
)
from tests.support.live_server import run_cli

WORKERS = 6


UPLOADS = 200 if FULL else 24


def _killer(server: ServerProcess, stop: threading.Event, rng: random.Random) -> None:
    """Kill the server at a random moment of its traffic, restart it, repeat."""
    while not stop.wait(rng.uniform(0.2, 1.5)):
        server.kill()
        server.start()


def test_acknowledged_uploads_survive_sigkill_and_open_none_half_visible(
    org: DemoOrg, database_url: str, tmp_path: Path, figures: Figures
) -> None:
    total = UPLOADS
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    server = ServerProcess(
        org,
        database_url,
        tmp_path / "blobs",
        tmp_path / "server.log",
        initialise=False,
        INTAKE_POW_DIFFICULTY="4",
        INTAKE_MIN_FREE_BYTES="0",
    )
    stats = ClientStats()
    acknowledged: dict[str, Prepared] = {}
    ack_lock = threading.Lock()
    counter = itertools.count()
    stop = threading.Event()

    def worker(index: int) -> None:
        local = random.Random(seed + index)
        with ResumingClient(server.url, stats, piece=128 * 1024) as client:
            while next(counter) < total:
                sizes = [
                    local.randint(1024, 1536 * 1024) for _ in range(local.choice((0, 1, 1, 2)))
                ]
                prepared = prepare_submission(org, new_canary(), sizes, local)
                sid = client.submit(prepared)
                with ack_lock:
                    acknowledged[sid] = prepared

    server.start()
    started = time.monotonic()
    killer = threading.Thread(target=_killer, args=(server, stop, rng), daemon=True)
    killer.start()
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            for future in [pool.submit(worker, n) for n in range(WORKERS)]:
                future.result()
    finally:
        stop.set()
        killer.join(timeout=120)
    elapsed = time.monotonic() - started
    stranded: list[str] = []
    try:
        if server.proc is None or server.proc.poll() is not None:
            server.start()
        try:
            opened = check_acknowledged(org, server.url, acknowledged)
        except AssertionError:
            # A kill that landed between "envelope marked complete" and "bytes
            # moved into the blob store" (test_crash_windows.py pins it down)
            # leaves bytes in partial/ that only `intake purge` moves.
            stranded = stranded_envelopes(server.blob_dir, acknowledged)
            if not stranded:
                raise
            run_cli(["intake", "purge"], server.env)
            opened = check_acknowledged(org, server.url, acknowledged)
    finally:
        server.stop()

    figures.update(
        db=database_url.split(":", 1)[0].split("+", 1)[0],
        seed=seed,
        kills=server.kills,
        submissions=total,
        acknowledged=len(acknowledged),
        verified=len(opened),
        envelopes=sum(len(p.envelopes) for p in acknowledged.values()),
        megabytes=round(sum(p.size for p in acknowledged.values()) / 2**20, 1),
        transport_errors=stats.transport_errors,
        resumes=stats.resumes,
        resumed_with_every_byte_held=stats.resumed_at_end,
        abandoned_creates=stats.abandoned_creates,
        stranded_until_purge=len(stranded),
        seconds=round(elapsed, 1),
    )
    print(f"\nkill/restart: {figures.values}")
    assert len(acknowledged) == total
    assert server.kills >= 3, "too few kills to prove anything; the run was too short"
    assert len(opened) == total

    # Unacknowledged, abandoned submissions stay invisible: only complete ones
    # were listed (checked above); here the database agrees.
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        with sqlite3.connect(path) as conn:
            complete = {
                row[0] for row in conn.execute("SELECT id FROM submissions WHERE state='complete'")
            }
        assert complete == set(acknowledged)

    hits = canary_hits(
        [p.canary for p in acknowledged.values()],
        [*database_files(database_url, tmp_path), server.blob_dir, server.log_path],
    )
    figures["canary_hits"] = len(hits)
    assert hits == []
    if stranded:
        pytest.xfail(
            f"{len(stranded)} acknowledged envelope(s) were not pullable until `intake purge` "
            "(see test_crash_windows.py::test_killed_between_marking_complete_and_storing_the_blob)"
        )


def stranded_envelopes(blob_dir: Path, acknowledged: dict[str, Prepared]) -> list[str]:
    """Acknowledged envelopes whose bytes sit in partial/ instead of objects/."""
    stranded = []
    for sid, prepared in acknowledged.items():
        for eid, data in prepared.envelopes.items():
            key = crypto.payload_digest(io.BytesIO(data)).hex()
            in_objects = (blob_dir / "objects" / key[:2] / key).is_file()
            if not in_objects and (blob_dir / "partial" / f"{sid}.{eid}").is_file():
                stranded.append(f"{sid}.{eid}")
    return stranded
