"""A real server process: `intake migrate`, `intake manifests import`, `intake serve`.

The end-to-end tests talk to it over loopback exactly as a browser and a
courier would, and read its log file afterwards (it must hold no client IP and
no plaintext).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str
    blob_dir: Path
    log_path: Path
    env: dict[str, str]


def server_env(database_url: str, blob_dir: Path, trust_root: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        INTAKE_DATABASE_URL=database_url,
        INTAKE_BLOB_DIR=str(blob_dir),
        INTAKE_TRUST_ROOT=trust_root,
        INTAKE_ENVIRONMENT="test",
        INTAKE_POW_SECRET="test-only-pow-secret-0123456789abcdef",
    )
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one of the project's console scripts; fail the test with its stderr if it fails."""
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def wait_for(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 30) -> None:
    """Poll `url` until it answers 200; fail with the server's log if it dies or never answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 -- loopback test URL
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"{url} did not answer; log:\n{log_path.read_text(errors='replace')}"
            )
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, and SIGKILL if it has not exited within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def serve(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`intake serve` as a real process on a free loopback port (the database
    already migrated and holding its manifest); yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [str(BIN / "intake"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(url + "/api/v1/manifests", proc, log_path)
        yield url
    finally:
        stop(proc)


@contextmanager
def live_server(
    *,
    database_url: str,
    blob_dir: Path,
    log_path: Path,
    trust_root: str,
    genesis: Path,
    **extra_env: str,
) -> Iterator[LiveServer]:
    """A migrated database holding the genesis manifest, served by a real process."""
    env = server_env(database_url, blob_dir, trust_root, **extra_env)
    run_cli(["intake", "migrate"], env)
    run_cli(["intake", "manifests", "import", str(genesis)], env)
    with serve(env, log_path) as url:
        yield LiveServer(url, database_url, blob_dir, log_path, env)


@contextmanager
def demo_server(kind: str, demo_org: Path, work: Path, **extra_env: str) -> Iterator[LiveServer]:
    """A real server for the demo organisation on a fresh `kind` database in
    `work`, with a cheap proof of work (tests pay it on every submission)."""
    from harness.databases import fresh_database  # psycopg only where used

    with (
        fresh_database(kind, work) as url,
        live_server(
            database_url=url,
            blob_dir=work / "blobs",
            log_path=work / "server.log",
            trust_root=(demo_org / "trust-root.json").read_text(),
            genesis=demo_org / "manifest-1.json",
            **{"INTAKE_POW_DIFFICULTY": "8", **extra_env},
        ) as live,
    ):
        yield live
