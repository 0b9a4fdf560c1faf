"""What the benchmark ran on: figures mean nothing without the machine."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cpu() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _npm_version(package: str) -> str:
    try:
        data = json.loads((ROOT / "node_modules" / package / "package.json").read_text())
        return str(data["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


def _chromium() -> str:
    if not CHROMIUM.exists():
        return "missing"
    try:
        result = subprocess.run(  # noqa: S603 -- a fixed path and argument
            [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return result.stdout.strip() or "unknown"


def _git_output(*args: str) -> str:
    return subprocess.run(  # noqa: S603 -- fixed git subcommands, no shell
        ["git", *args],  # noqa: S607 -- git from PATH, read only
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout.strip()


def _git() -> str:
    try:
        head = _git_output("rev-parse", "--short", "HEAD")
        dirty = _git_output("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return f"{head}{' with uncommitted changes' if dirty else ''}" if head else "unknown"


def describe() -> dict[str, str]:
    """A stable description (no timestamps): measurements on one machine share it."""
    return {
        "CPU": f"{_cpu()}, {os.cpu_count()} logical cores",
        "memory": _memory(),
        "system": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "PyNaCl": _version("pynacl"),
        "uvicorn / FastAPI / SQLAlchemy": " / ".join(
            _version(p) for p in ("uvicorn", "fastapi", "sqlalchemy")
        ),
        "Chromium": _chromium(),
        "libsodium.js (npm libsodium-wrappers)": _npm_version("libsodium-wrappers"),
        "source": _git(),
    }


def load_average() -> float:
    return os.getloadavg()[0]


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
