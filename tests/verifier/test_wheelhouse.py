"""`make wheelhouse`, then the air-gapped laptop's install: the tarball is
unpacked, `wheelhouse/install.sh` installs into a fresh venv with
`pip --no-index` (inside a network namespace with no interfaces when we are
root), and the installed `intake-verifier` decrypts a bundle with no network.

The Makefile target runs in a copy of the source tree, so the test never
writes into the working tree; it needs the package index to build the
wheelhouse (as `make wheelhouse` does) and skips, saying why, without it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import crypto
from tests.cli.support import (
    PASSPHRASE,
    Attachment,
    make_submission,
    signed_genesis,
    write_bundle,
    write_keyring,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "var",
    "wheelhouse",
    "wheelhouse.tar.gz",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "vendor",
    "*.egg-info",
    "build",
    "dist",
)
# What the offline tools may pull in: PyNaCl, Click, Rich, segno and theirs.
ALLOWED = {
    "intake",
    "pynacl",
    "cffi",
    "pycparser",
    "click",
    "rich",
    "markdown-it-py",
    "mdurl",
    "pygments",
    "segno",
    "pip",
    "setuptools",
}
_OFFLINE_MARKS = ("Could not find a version", "NewConnectionError", "Temporary failure")


def _netns() -> list[str]:
    """`unshare -n` (no network at all, loopback down) when we may use it."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        return []
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False)
    return [unshare, "-n"] if probe.returncode == 0 else []


def _index_reachable() -> bool:
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "PIP_INDEX_URL")):
        return True  # a proxy or mirror decides; let pip try
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The laptop: a PATH and a HOME, nothing of this machine's pip setup."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **extra}


@dataclass(frozen=True)
class Install:
    tools: Path  # the new venv
    wheelhouse: Path
    netns: list[str]
    home: Path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Install:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    if not _index_reachable():
        pytest.skip("the package index is unreachable: make wheelhouse downloads the wheels")
    base = tmp_path_factory.mktemp("wheelhouse")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE, symlinks=True)
    # The project's venv is only the build tool here (`-o`: never rebuilt).
    built = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.deps", f"PY={sys.executable}", "wheelhouse"],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if built.returncode != 0 and any(mark in built.stderr for mark in _OFFLINE_MARKS):
        pytest.skip(f"make wheelhouse could not download: {built.stderr[-300:]}")
    assert built.returncode == 0, built.stdout + built.stderr
    laptop = base / "laptop"
    laptop.mkdir()
    with tarfile.open(source / "wheelhouse.tar.gz") as archive:
        archive.extractall(laptop, filter="data")
    wheelhouse = laptop / "wheelhouse"
    netns = _netns()
    tools = laptop / "intake-tools"
    result = subprocess.run(
        [*netns, "sh", str(wheelhouse / "install.sh"), str(tools)],
        env=_clean_env(laptop),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Installed in {tools}" in result.stdout
    return Install(tools, wheelhouse, netns, laptop)


def _bundle_and_keyring(base: Path) -> tuple[Path, Path, str]:
    admins = [crypto.generate_identity("admin", f"admin-{n}") for n in (1, 2)]
    verifier = crypto.generate_identity("verifier", "laptop")
    genesis = signed_genesis(admins, [verifier], org_name="Offline")
    root = crypto.TrustRoot(2, frozenset(a.sign_kid for a in admins))
    keyring = write_keyring(base / "keyring", "laptop", verifier, root)
    sub = make_submission(
        crypto.parse_manifest(genesis), attachments=[Attachment("a.pdf", b"%PDF-1.4 offline")]
    )
    return write_bundle(base / "bundle.tar", [genesis], [sub]), keyring, sub.sid


def test_wheelhouse_installs_only_the_offline_tools_and_they_run(installed: Install) -> None:
    names = sorted(p.name for p in installed.wheelhouse.iterdir())
    assert "install.sh" in names and any(n.startswith("intake-") for n in names)
    assert "SHA256SUMS" in names  # install.sh refuses a damaged or swapped file
    assert all(n.endswith(".whl") for n in names if n not in ("install.sh", "SHA256SUMS"))

    helped = subprocess.run(
        [*installed.netns, str(installed.tools / "bin" / "intake-verifier"), "--help"],
        env=_clean_env(installed.home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert helped.returncode == 0, helped.stderr
    for command in ("decrypt", "receipts", "reply", "rewrap", "keygen"):
        assert command in helped.stdout
    listed = subprocess.run(
        [str(installed.tools / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        env=_clean_env(
            installed.home, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1"
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    packages = json.loads(listed.stdout.strip().splitlines()[0])
    present = {p["name"].lower().replace("_", "-") for p in packages}
    assert present <= ALLOWED, present - ALLOWED  # no server libraries on the laptop
    assert {"intake", "pynacl", "click", "rich", "segno"} <= present


def test_installed_verifier_decrypts_with_no_network(installed: Install, tmp_path: Path) -> None:
    if not installed.netns:
        pytest.skip("unshare -n needs root: the tool ran above, but not in a network namespace")
    bundle, keyring, sid = _bundle_and_keyring(tmp_path)
    tool = str(installed.tools / "bin" / "intake-verifier")
    cases = tmp_path / "cases"
    decrypt = [*installed.netns, tool, "decrypt", str(bundle), "--keyring", str(keyring), "--out"]

    opened = subprocess.run(
        [*decrypt, str(cases)],
        env=_clean_env(installed.home, INTAKE_PASSPHRASE=PASSPHRASE),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    refused = subprocess.run(
        [*decrypt, str(tmp_path / "other")],
        env=_clean_env(installed.home, INTAKE_PASSPHRASE="not the passphrase at all"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert opened.returncode == 0, opened.stderr
    assert (cases / sid / "attachments" / "a.pdf").read_bytes() == b"%PDF-1.4 offline"
    # The installed console script's errors: one error line, one hint, exit 1.
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert [line.split(":")[1] for line in lines] == [" error", " hint"], refused.stderr
    assert "does not open with the passphrase" in lines[0]


def test_the_project_venv_is_not_what_the_tools_import(installed: Install) -> None:
    """The installed tools run from their own venv, not from this source tree."""
    where = subprocess.run(
        [str(installed.tools / "bin" / "python"), "-c", "import crypto; print(crypto.__file__)"],
        env=_clean_env(installed.home),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=installed.home,
    )
    assert where.stdout.strip().startswith(str(installed.tools))
