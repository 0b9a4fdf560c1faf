"""The demo organisation and `intake serve` as a child process that can be
killed with SIGKILL and started again: what the resilience tests and
`python -m bench` drive. Nothing stands in for the system: the server is the
real process on a loopback port, the keys real key files of `intake-admin demo`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

import crypto
from harness.demo import DEMO_PASSPHRASE
from harness.live_server import BIN, free_port, run_cli, server_env, stop

# Errors that mean "the connection to the server broke": the server was
# killed, is restarting, or the request never reached it. A client that sees
# one does not know how much of its request arrived, so it asks the server.
TRANSPORT_ERRORS = (httpx.TransportError,)


# -- the organisation ---------------------------------------------------------------


@dataclass(frozen=True)
class DemoOrg:
    """`intake-admin demo` output, with the verifier's and courier's keys opened."""

    folder: Path
    trust_root: str
    genesis: Path
    manifest: crypto.Manifest
    verifier: crypto.Identity
    courier: crypto.Identity

    @property
    def keyring(self) -> crypto.Keyring:
        return crypto.Keyring([self.verifier])

    @property
    def recipients(self) -> list[bytes]:
        return [v.x25519 for v in self.manifest.active_verifiers()]


def make_demo_org(folder: Path) -> DemoOrg:
    """The demo organisation exactly as `make run` makes it (real Argon2id key files)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    run_cli(["intake-admin", "demo", "--out", str(folder)], env)
    return load_demo_org(folder)


def load_demo_org(folder: Path) -> DemoOrg:
    """Open an `intake-admin demo` folder: its manifest, verifier and courier keys."""
    genesis = folder / "manifest-1.json"
    manifest = crypto.parse_manifest(json.loads(genesis.read_text()))
    return DemoOrg(
        folder=folder,
        trust_root=(folder / "trust-root.json").read_text(),
        genesis=genesis,
        manifest=manifest,
        verifier=crypto.read_key_file(folder / "keyring" / "verifier.key", DEMO_PASSPHRASE),
        courier=crypto.read_key_file(folder / "courier" / "courier.key", DEMO_PASSPHRASE),
    )


# -- the server process ---------------------------------------------------------------


class ServerProcess:
    """`intake serve` as a child process on a fixed port, which can be killed
    with SIGKILL and started again on the same database and blob directory."""

    def __init__(
        self,
        org: DemoOrg,
        database_url: str,
        blob_dir: Path,
        log_path: Path,
        *,
        port: int | None = None,
        initialise: bool = True,
        **extra_env: str,
    ) -> None:
        self.env = server_env(database_url, blob_dir, org.trust_root, **extra_env)
        self.database_url = database_url
        self.blob_dir = blob_dir
        self.log_path = log_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        if initialise:
            initialise_database(org, database_url, blob_dir)

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("server not running")
        return self.proc.pid

    def start(self, *, prefix: Sequence[str] = (), timeout: float = 60) -> None:
        """Start the server (optionally under a command `prefix`, e.g. strace) and
        wait until it answers."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("already running")
        command = [*prefix, str(BIN / "intake"), "serve", "--host", "127.0.0.1"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*command, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = httpx.get(f"{self.url}/api/v1/manifests", timeout=2)
                if response.status_code == 200:
                    return
            except TRANSPORT_ERRORS:
                pass
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"server exited; log:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start; log:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no goodbye."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop(self.proc, timeout=15)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def initialise_database(org: DemoOrg, database_url: str, blob_dir: Path) -> None:
    """`intake migrate` and `intake manifests import` of the genesis manifest."""
    env = server_env(database_url, blob_dir, org.trust_root)
    run_cli(["intake", "migrate"], env)
    run_cli(["intake", "manifests", "import", str(org.genesis)], env)
