"""The onion service, wired end to end without the network: tor, started with
deploy/tor/torrc, makes the onion address; deploy/scripts/set-onion-location.sh
publishes it to the server's environment; the server then sends it as
`Onion-Location`."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.helpers import DEPLOY, Org, prepare_database, require_tool, serve, stop

SCRIPT = DEPLOY / "scripts/set-onion-location.sh"
V3_ONION = re.compile(r"\A[a-z2-7]{56}\.onion\Z")


def set_onion_location(
    hostname: Path, env_file: Path, **options: Any
) -> subprocess.CompletedProcess[str]:
    """The script as the operator runs it: Tor's hostname file into the env file."""
    return subprocess.run(
        ["sh", str(SCRIPT), str(hostname), str(env_file)],
        capture_output=True,
        text=True,
        timeout=30,
        **options,
    )


@pytest.fixture
def folder() -> Iterator[Path]:
    """A private folder (tor insists its hidden-service directory is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="intake-onion-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_onion_address(folder: Path) -> Path:
    """Runs tor with the production torrc (paths moved into `folder`, the
    network disabled) until it has written the onion hostname file."""
    tor = require_tool("tor")
    hidden = folder / "hidden"
    hidden.mkdir(mode=0o700)
    torrc = folder / "torrc"
    text = (DEPLOY / "tor/torrc").read_text()
    torrc.write_text(text.replace("/var/lib/tor/intake/", f"{hidden}/intake/"))
    (folder / "defaults").write_text("")
    log = folder / "tor.log"
    files = ["--defaults-torrc", str(folder / "defaults"), "-f", str(torrc)]
    offline = ["--DataDirectory", str(folder / "data"), "--DisableNetwork", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [tor, *files, *offline],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    hostname = hidden / "intake" / "hostname"
    try:
        deadline = time.monotonic() + 30
        while not (hostname.exists() and hostname.read_text().strip()):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        stop(proc)
    # The key that IS the address stays private to tor.
    secret = hidden / "intake" / "hs_ed25519_secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((hidden / "intake").stat().st_mode) == 0o700
    return hostname


def test_tor_makes_the_onion_address_and_the_server_announces_it(
    folder: Path, org: Org, tmp_path: Path
) -> None:
    hostname = make_onion_address(folder)
    address = hostname.read_text().strip()
    assert V3_ONION.match(address)

    env_file = tmp_path / "intake.env"
    env_file.write_text("INTAKE_ENVIRONMENT=production\nINTAKE_ONION_LOCATION=http://old.onion\n")
    env_file.chmod(0o640)
    result = set_onion_location(hostname, env_file, check=True)
    assert result.stdout.strip() == f"INTAKE_ONION_LOCATION=http://{address}"
    assert env_file.read_text().splitlines() == [
        "INTAKE_ENVIRONMENT=production",
        f"INTAKE_ONION_LOCATION=http://{address}",
    ]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o640  # it holds secrets: mode kept
    assert [p.name for p in tmp_path.iterdir()] == ["intake.env"]  # no temporary left

    # The server started with that environment (as systemd's EnvironmentFile does).
    settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    env = prepare_database(
        org,
        f"sqlite:///{tmp_path / 'db' / 'intake.db'}",
        tmp_path / "blobs",
        INTAKE_ONION_LOCATION=settings["INTAKE_ONION_LOCATION"],
    )
    with serve(env, tmp_path / "server.log") as url:
        response = httpx.get(url + "/", timeout=30)
    assert response.headers["onion-location"] == f"http://{address}"


@pytest.mark.parametrize(
    "content",
    ["", "not-an-onion\n", "a" * 56 + ".onion\nmore\n", "http://" + "a" * 56 + ".onion\n"],
    ids=["empty", "garbage", "two-lines", "already-a-url"],
)
def test_set_onion_location_refuses_a_damaged_hostname_file(content: str, tmp_path: Path) -> None:
    hostname = tmp_path / "hostname"
    hostname.write_text(content)
    env_file = tmp_path / "intake.env"
    env_file.write_text("INTAKE_ENVIRONMENT=production\n")
    result = set_onion_location(hostname, env_file, check=False, env={**os.environ, "LC_ALL": "C"})
    assert result.returncode == 1
    assert "error" in result.stderr
    assert env_file.read_text() == "INTAKE_ENVIRONMENT=production\n"
