"""Fixtures for the server tests.

Every database test runs twice: on SQLite (a temporary file) and on a real
PostgreSQL (a uniquely named database created on 127.0.0.1:5432 through the
`test` database, dropped afterwards). The schema is made by the Alembic
migrations, never by `create_all`. Set INTAKE_TEST_POSTGRES_URL to another
admin URL, or to `skip` to run SQLite only.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from server_helpers import World
from sqlalchemy.engine import make_url

from app.migrate import upgrade
from app.models import Base
from app.settings import Settings
from tests.support.app_clients import app_clients, unthrottled_settings

# Starlette 1.x asks for `httpx2` under its TestClient; the project pins
# `httpx`, which works the same. Only this one import-time warning is
# silenced (pyproject turns every warning into an error).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POW_SECRET = "a" * 64


def _pg_admin_url() -> str:
    value = os.environ.get("INTAKE_TEST_POSTGRES_URL", DEFAULT_PG_ADMIN).strip()
    if value.lower() in {"", "skip", "none", "off", "0"}:
        pytest.skip("PostgreSQL tests disabled by INTAKE_TEST_POSTGRES_URL")
    return value


def _admin_engine() -> sa.Engine:
    url = _pg_admin_url()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        engine.dispose()
        pytest.skip(f"PostgreSQL does not answer at {make_url(url).render_as_string()}")
    return engine


class FreshDatabase:
    """Creates and drops empty databases of one kind."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.tmp = tmp
        self._created: list[str] = []
        self._admin: sa.Engine | None = None

    def new(self) -> str:
        name = f"intake_test_{secrets.token_hex(6)}"
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp / (name + '.db')}"
        if self._admin is None:
            self._admin = _admin_engine()
        with self._admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as conn:
            for name in self._created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture(scope="session")
def fresh_databases(
    db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FreshDatabase]:
    factory = FreshDatabase(db_kind, tmp_path_factory.mktemp(db_kind))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def migrated_url(fresh_databases: FreshDatabase) -> str:
    """One migrated database per kind for the whole session."""
    url = fresh_databases.new()
    upgrade(Settings(database_url=url, environment="test", pow_secret=SecretStr(POW_SECRET)))
    return url


@pytest.fixture
def database_url(migrated_url: str) -> Iterator[str]:
    """The session's migrated database, emptied before each test."""
    engine = sa.create_engine(migrated_url)
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    engine.dispose()
    yield migrated_url


@pytest.fixture(scope="session")
def world() -> World:
    return World.create()


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path, world: World) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return unthrottled_settings(
            **{
                "database_url": database_url,
                "blob_dir": tmp_path / "blobs",
                "trust_root": world.trust_root(),
                "pow_secret": POW_SECRET,
                **overrides,
            }
        )

    return make


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    with app_clients(make_settings) as make:
        yield make


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def genesis(world: World) -> dict[str, Any]:
    envelope: dict[str, Any] = world.manifest(1)
    return envelope


@pytest.fixture
def ready(client: TestClient, genesis: dict[str, Any]) -> TestClient:
    """A client whose server holds the genesis manifest."""
    response = client.post("/api/v1/manifests", json=genesis)
    assert response.status_code == 201, response.text
    return client
