"""Fixtures for the resilience suite: faults injected on purpose into a real server.

The default run (`make test`) is the shortened form; INTAKE_RESILIENCE_FULL=1
(`make resilience`) runs the full one: 200 killed uploads, 200 clients for
60 seconds. Each test's figures (kills, submissions, verified, ...) are
printed at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.resilience.support import DemoOrg, copy_sqlite, initialise_database, load_demo_org
from tests.support.databases import fresh_database, postgres_unavailable_reason

FULL = os.environ.get("INTAKE_RESILIENCE_FULL", "") == "1"

_FIGURES: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture(scope="session")
def org(demo_org: Path) -> DemoOrg:
    """The session's demo organisation, its verifier and courier keys opened once."""
    return load_demo_org(demo_org)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_kind(request: pytest.FixtureRequest) -> str:
    """SQLite always; PostgreSQL in the full run (where it answers): the
    shortened run stays within its time budget."""
    if request.param == "postgresql":
        if not FULL:
            pytest.skip("PostgreSQL variant runs with INTAKE_RESILIENCE_FULL=1")
        reason = postgres_unavailable_reason()
        if reason:
            pytest.skip(reason)
    return str(request.param)


@pytest.fixture(scope="session")
def sqlite_template(org: DemoOrg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database holding the genesis manifest, copied per test."""
    folder = tmp_path_factory.mktemp("resilience-template")
    initialise_database(org, f"sqlite:///{folder / 'intake.db'}", folder / "blobs")
    return folder / "intake.db"


@pytest.fixture
def database_url(
    database_kind: str, sqlite_template: Path, org: DemoOrg, tmp_path: Path
) -> Iterator[str]:
    """An initialised database of `database_kind` (servers use initialise=False)."""
    if database_kind == "sqlite":
        yield copy_sqlite(sqlite_template, tmp_path / "db")
        return
    with fresh_database(database_kind, tmp_path) as url:
        initialise_database(org, url, tmp_path / "blobs")
        yield url


class Figures:
    """Collects one test's figures; printed in the terminal summary."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: dict[str, Any] = {}
        _FIGURES.append((name, self.values))

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value

    def update(self, **values: Any) -> None:
        self.values.update(values)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(request.node.nodeid.split("::", 1)[-1])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    mode = "full" if FULL else "short (INTAKE_RESILIENCE_FULL=1 for the full run)"
    terminalreporter.section(f"resilience figures, {mode}")
    for name, values in _FIGURES:
        shown = ", ".join(f"{key}={value}" for key, value in values.items())
        terminalreporter.write_line(f"{name}: {shown}")
