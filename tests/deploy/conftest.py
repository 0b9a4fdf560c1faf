"""Fixtures for the deployment tests: the demo organisation, PostgreSQL, tools."""

from __future__ import annotations

import os

import pytest

from tests.deploy.helpers import DEMO_PASSPHRASE, Org
from tests.support.databases import postgres_unavailable_reason
from tests.support.live_server import run_cli


@pytest.fixture(scope="session")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    """The demo organisation exactly as `make run` makes it, once per session."""
    folder = tmp_path_factory.mktemp("deploy-org") / "demo"
    run_cli(["intake-admin", "demo", "--out", str(folder)], dict(os.environ))
    return Org(folder)


@pytest.fixture
def tools_env() -> dict[str, str]:
    """The offline tools' environment: the demo passphrase, no server settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env["INTAKE_PASSPHRASE"] = DEMO_PASSPHRASE
    return env


@pytest.fixture
def postgresql() -> None:
    """Skips the test, saying why, when no PostgreSQL answers."""
    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
