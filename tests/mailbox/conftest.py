"""Fixtures for the mailbox tests: the demo organisation, real servers, real Chromium.

The end-to-end fixtures (demo organisation, live server on SQLite and
PostgreSQL, Chromium, the offline tools' environment) are those of
tests/e2e; the API tests drive `create_app` in-process on the same two
databases, with the schema made by the real migrations.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

import crypto
from app.main import create_app
from app.migrate import upgrade
from app.models import Base
from app.settings import Settings
from tests.mailbox.browser import Tools
from tests.mailbox.support import Stored
from tests.support.app_clients import app_clients
from tests.support.databases import fresh_database
from tests.support.demo import DEMO_PASSPHRASE
from tests.support.live_server import LiveServer

with warnings.catch_warnings():
    # Starlette's TestClient asks for `httpx2`; the project pins `httpx`.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

POW_SECRET = "mailbox-tests-pow-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def demo_verifier(demo_org: Path) -> crypto.Identity:
    """The demo organisation's verifier key (one Argon2id opening per session)."""
    return crypto.read_key_file(demo_org / "keyring" / "verifier.key", DEMO_PASSPHRASE)


@pytest.fixture
def tools(server: LiveServer, demo_org: Path, tools_env: dict[str, str], tmp_path: Path) -> Tools:
    """The organisation's courier and verifier tools against this test's server."""
    return Tools(server, demo_org, tools_env, tmp_path)


@pytest.fixture
def stored(database_url: str, demo_verifier: crypto.Identity, manifest: crypto.Manifest) -> Stored:
    """Replies written straight into this test's database, as the demo verifier signs them."""
    return Stored(database_url, demo_verifier, manifest)


@pytest.fixture
def server_replies(
    server: LiveServer, demo_verifier: crypto.Identity, manifest: crypto.Manifest
) -> Stored:
    """Replies written straight into the live server's database, as the demo verifier signs them."""
    return Stored(server.database_url, demo_verifier, manifest)


@pytest.fixture(scope="session")
def genesis(demo_org: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((demo_org / "manifest-1.json").read_text())
    return doc


@pytest.fixture(scope="session")
def manifest(genesis: dict[str, Any]) -> crypto.Manifest:
    return crypto.parse_manifest(genesis)


def _settings(database_url: str, blob_dir: Path, demo_org: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "blob_dir": blob_dir,
        "environment": "test",
        "trust_root": (demo_org / "trust-root.json").read_text(),
        "pow_difficulty": 8,
        "mailbox_pow_difficulty": 4,
        "pow_secret": SecretStr(POW_SECRET),
        "min_free_bytes": 0,
        "rate_limit_scale": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def migrated_databases(
    tmp_path_factory: pytest.TempPathFactory, demo_org: Path, genesis: dict[str, Any]
) -> Iterator[Callable[[str], str]]:
    """One database of each kind per run, made by the real migrations and
    holding the demo genesis manifest; tests empty it rather than remake it."""
    made: dict[str, str] = {}
    with ExitStack() as stack:

        def get(kind: str) -> str:
            if kind not in made:
                work = tmp_path_factory.mktemp(f"db-{kind}")
                url = stack.enter_context(fresh_database(kind, work))
                settings = _settings(url, work / "blobs", demo_org)
                upgrade(settings)
                with TestClient(create_app(settings)) as client:
                    accepted = client.post("/api/v1/manifests", json=genesis)
                    assert accepted.status_code == 201, accepted.text
                made[kind] = url
            return made[kind]

        yield get


# Rows a test may leave behind; the schema and the manifest chain stay.
_KEPT_TABLES = {"manifests", "alembic_version"}


@pytest.fixture
def database_url(database_kind: str, migrated_databases: Callable[[str], str]) -> str:
    url = migrated_databases(database_kind)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in _KEPT_TABLES:
                    conn.execute(table.delete())
    finally:
        engine.dispose()
    return url


@pytest.fixture
def make_client(
    database_url: str, tmp_path: Path, demo_org: Path
) -> Iterator[Callable[..., TestClient]]:
    """An in-process app on the migrated database, with `Settings` overrides."""

    def settings(**overrides: Any) -> Settings:
        return _settings(database_url, tmp_path / "blobs", demo_org, **overrides)

    with app_clients(settings) as make:
        yield make
