"""Faults placed exactly, where random kills land only rarely.

- The server dies in the instant after it marked an envelope complete in the
  database and before it moved the bytes into the blob store (SIGKILL
  injected by strace on that one `rename`).
- Every byte of an envelope arrives but the connection drops before the
  request ends (a phone losing its signal at 100 %): the server holds the
  bytes without having validated them.

In both, the applicant's page resumes the way it is written to (GET the
offset; nothing left to send; finalise). The promise under test: what the
server acknowledges, a courier can pull and a verifier can open, with no
operator action in between.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.resilience.support import (
    ClientStats,
    DemoOrg,
    ResumingClient,
    ServerProcess,
    check_acknowledged,
    copy_sqlite,
    new_canary,
    prepare_submission,
    running,
)


def _traced(pid: int) -> bool:
    tasks = os.listdir(f"/proc/{pid}/task")
    for task in tasks:
        with open(f"/proc/{pid}/task/{task}/status") as status:
            if "TracerPid:\t0\n" in status.read():
                return False
    return True


def _kill_on_rename_of(server: ServerProcess, path: Path) -> subprocess.Popen[bytes]:
    """Attach strace to every thread of the server: the first rename of `path`
    is answered with SIGKILL before it happens."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (apt-get install strace)")
    calls = "rename,renameat,renameat2"
    command = ["strace", "-f", "-qq", "-o", "/dev/null", "-p", str(server.pid), "-P", str(path)]
    command += ["-e", f"trace={calls}", "-e", f"inject={calls}:signal=KILL"]
    tracer = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not _traced(server.pid):
        if tracer.poll() is not None or time.monotonic() > deadline:
            tracer.kill()
            _, error = tracer.communicate()
            pytest.skip(f"strace cannot attach here: {error[:200]!r}")
        time.sleep(0.02)
    return tracer


@pytest.fixture
def server(org: DemoOrg, sqlite_template: Path, tmp_path: Path) -> ServerProcess:
    """A server on its own copy of the migrated SQLite database (not started)."""
    return ServerProcess(
        org,
        copy_sqlite(sqlite_template, tmp_path),
        tmp_path / "blobs",
        tmp_path / "server.log",
        initialise=False,
        INTAKE_POW_DIFFICULTY="0",
    )


def test_killed_between_marking_complete_and_storing_the_blob(
    org: DemoOrg, server: ServerProcess
) -> None:
    prepared = prepare_submission(org, new_canary())
    data = prepared.envelopes["form"]
    with ResumingClient(server.url, ClientStats()) as client, running(server):
        sid = client.create(prepared)
        tracer = _kill_on_rename_of(server, server.blob_dir / "partial" / f"{sid}.form")
        with pytest.raises(httpx.TransportError):  # the server dies mid-request
            client.http.put(
                f"/api/v1/submissions/{sid}/envelopes/form?offset=0",
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
        assert server.proc is not None
        assert server.proc.wait(timeout=30) == -9, "the injected SIGKILL did not land"
        tracer.communicate(timeout=30)
        server.start()
        client.resume(sid, prepared)  # acknowledged: finalise answers "complete"

        # The operator runs nothing: the restarted server finished the move
        # itself (app.maintenance.finish_interrupted_moves at start-up).
        check_acknowledged(org, server.url, {sid: prepared})


def test_every_byte_received_then_connection_lost_can_still_be_finalised(
    org: DemoOrg, server: ServerProcess
) -> None:
    prepared = prepare_submission(org, new_canary())
    data = prepared.envelopes["form"]
    with ResumingClient(server.url, ClientStats()) as client, running(server):
        sid = client.create(prepared)
        # A chunked PUT whose every byte is sent, then the connection is lost
        # before the terminating chunk: the server keeps the bytes (resumable)
        # but never gets to validate them.
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(
                f"PUT /api/v1/submissions/{sid}/envelopes/form?offset=0 HTTP/1.1\r\n"
                "Host: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
                f"{len(data):x}\r\n".encode()
                + data
                + b"\r\n"
            )
            time.sleep(0.3)
        base = f"/api/v1/submissions/{sid}/envelopes/form"
        deadline = time.monotonic() + 10
        while client.http.get(base).json()["offset"] != len(data):
            assert time.monotonic() < deadline, "the server did not keep the bytes"
            time.sleep(0.05)

        # The page (intake-page.js uploadEnvelope) sees offset == size, has
        # nothing left to send, and finalises.
        final = client.http.post(f"/api/v1/submissions/{sid}/finalise")
        assert final.status_code == 200, final.text
        check_acknowledged(org, server.url, {sid: prepared})
