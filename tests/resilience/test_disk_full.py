"""A disk that fills up in the middle of an upload.

Two ways it happens: the disk guard (INTAKE_MIN_FREE_BYTES) refuses more bytes
before the disk is really full, or, with the guard off, a write fails with
ENOSPC. Either way the client gets 507, nothing already stored is damaged,
the interrupted upload keeps exactly the bytes it was told about, and once
the disk has room again the client resumes and every submission opens.

The disk is a small tmpfs mounted for the test (root only); without root the
guard variant runs on the ordinary disk with a threshold just below its free
space, and the ENOSPC variant is skipped.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.resilience.conftest import Figures
from tests.resilience.support import (
    ClientStats,
    DemoOrg,
    Prepared,
    Refused,
    ResumingClient,
    ServerProcess,
    canary_hits,
    check_acknowledged,
    copy_sqlite,
    database_files,
    new_canary,
    prepare_submission,
)

MiB = 2**20
DISK_MIB = 48


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[bool]:
    """A tmpfs of DISK_MIB at `folder`; yields False (and mounts nothing) where
    mounting is not allowed."""
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield False
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MIB}m,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def grow(folder: Path, mounted: bool) -> None:
    """The operator makes room: the tmpfs grows (or, unmounted, nothing to do)."""
    if mounted:
        subprocess.run(["mount", "-o", "remount,size=256m", str(folder)], check=True)


@pytest.mark.parametrize("how", ["guard", "enospc"])
def test_disk_filling_mid_upload_answers_507_and_damages_nothing(
    org: DemoOrg, sqlite_template: Path, tmp_path: Path, figures: Figures, how: str
) -> None:
    with small_disk(tmp_path / "disk") as mounted:
        disk = tmp_path / "disk"
        if how == "enospc" and not mounted:
            pytest.skip("needs root to mount a small tmpfs (the ENOSPC path)")
        if mounted:
            # The guard keeps 12 MiB free; with it off the writes run into the wall.
            # The database shares the small disk: it must survive a full disk too.
            min_free = 12 * MiB if how == "guard" else 0
            database_url = copy_sqlite(sqlite_template, disk)
        else:
            min_free = shutil.disk_usage(tmp_path).free - 36 * MiB
            database_url = copy_sqlite(sqlite_template, tmp_path)
        server = ServerProcess(
            org,
            database_url,
            disk / "blobs",
            tmp_path / "server.log",
            initialise=False,
            INTAKE_POW_DIFFICULTY="0",
            INTAKE_MIN_FREE_BYTES=str(min_free),
        )
        stats = ClientStats()
        rng = random.Random(7)
        acknowledged: dict[str, Prepared] = {}
        interrupted: tuple[str, Prepared, str] | None = None
        refused_at = ""
        server.start()
        try:
            with ResumingClient(server.url, stats, piece=1 * MiB) as client:
                for _ in range(40):
                    prepared = prepare_submission(org, new_canary(), [3 * MiB, 3 * MiB], rng)
                    try:
                        sid = client.create(prepared)
                    except Refused as exc:
                        assert exc.status == 507, exc
                        refused_at = "create"
                        break
                    try:
                        for eid, data in prepared.envelopes.items():
                            current = eid
                            client.upload(sid, eid, data)
                    except Refused as exc:
                        assert exc.status == 507, exc
                        refused_at = "upload"
                        interrupted = (sid, prepared, current)
                        break
                    client.finalise(sid)
                    acknowledged[sid] = prepared
                assert refused_at, "the disk never filled"
                assert stats.statuses[507] >= 1

                # Nothing stored was damaged, and the interrupted upload holds a
                # clean prefix of what was sent: exactly the offset it reports.
                check_acknowledged(org, server.url, acknowledged)
                resumed_from = None
                if interrupted is not None:
                    sid, prepared, eid = interrupted
                    base = f"/api/v1/submissions/{sid}/envelopes/{eid}"
                    resumed_from = client.http.get(base).json()["offset"]
                    partial = server.blob_dir / "partial" / f"{sid}.{eid}"
                    held = partial.read_bytes() if partial.exists() else b""
                    assert len(held) == resumed_from
                    assert held == prepared.envelopes[eid][: len(held)]

                # Room again: the interrupted client resumes and finishes.
                grow(disk, mounted)
                if interrupted is not None:
                    sid, prepared, _eid = interrupted
                    client.resume(sid, prepared)
                    acknowledged[sid] = prepared
                opened = check_acknowledged(org, server.url, acknowledged)
        finally:
            server.stop()

        figures.update(
            how=how,
            tmpfs=f"{DISK_MIB} MiB" if mounted else "no (guard on the real disk)",
            refused_at=refused_at,
            status_507=stats.statuses[507],
            acknowledged_before=len(acknowledged) - (1 if interrupted else 0),
            resumed_from_bytes=resumed_from,
            verified=len(opened),
        )
        print(f"\ndisk full ({how}): {figures.values}")
        unexpected = {s: n for s, n in stats.statuses.items() if s >= 400 and s != 507}
        assert unexpected == {}
        hits = canary_hits(
            [p.canary for p in acknowledged.values()],
            [*database_files(database_url, tmp_path), server.blob_dir, server.log_path],
        )
        figures["canary_hits"] = len(hits)
        assert hits == []
