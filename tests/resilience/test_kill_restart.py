"""Uploads while the server is killed with SIGKILL at random moments and restarted.

The promise: a submission the server acknowledged (finalise answered
`complete`) is stored whole and opens with the verifier's key, after any
number of crashes; a submission it did not acknowledge is never visible to a
courier half-stored. Clients resume as the page does: GET the offset, PUT the
rest, finalise.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy

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

WORKERS = 6


UPLOADS = 200 if FULL else 24
MIN_KILLS = 3


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
    give_up = time.monotonic() + 600  # then the kill-count assertion says why
    stop = threading.Event()

    def worker(index: int) -> None:
        local = random.Random(seed + index)
        with ResumingClient(server.url, stats, piece=128 * 1024) as client:
            # At least UPLOADS, and on until the server was killed MIN_KILLS
            # times: a fast machine must not finish before the faults land.
            while next(counter) < total or (
                server.kills < MIN_KILLS and time.monotonic() < give_up
            ):
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
    try:
        if server.proc is None or server.proc.poll() is not None:
            server.start()
        # No operator step in between: a kill between "envelope marked
        # complete" and "bytes moved" is finished by the next start-up.
        opened = check_acknowledged(org, server.url, acknowledged)
    finally:
        server.stop()

    figures.update(
        db=database_url.split(":", 1)[0].split("+", 1)[0],
        seed=seed,
        kills=server.kills,
        submissions=len(acknowledged),
        acknowledged=len(acknowledged),
        verified=len(opened),
        envelopes=sum(len(p.envelopes) for p in acknowledged.values()),
        megabytes=round(sum(p.size for p in acknowledged.values()) / 2**20, 1),
        transport_errors=stats.transport_errors,
        resumes=stats.resumes,
        resumed_with_every_byte_held=stats.resumed_at_end,
        abandoned_creates=stats.abandoned_creates,
        seconds=round(elapsed, 1),
    )
    print(f"\nkill/restart: {figures.values}")
    assert len(acknowledged) >= total
    assert server.kills >= MIN_KILLS
    assert len(opened) == len(acknowledged)

    # Unacknowledged, abandoned submissions stay invisible: only complete ones
    # were listed (checked above); here the database agrees.
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = sqlalchemy.text("SELECT id FROM submissions WHERE state = 'complete'")
            complete = set(conn.execute(query).scalars())
    finally:
        engine.dispose()
    assert complete == set(acknowledged)

    hits = canary_hits(
        [p.canary for p in acknowledged.values()],
        [*database_files(database_url, tmp_path), server.blob_dir, server.log_path],
    )
    figures["canary_hits"] = len(hits)
    assert hits == []
