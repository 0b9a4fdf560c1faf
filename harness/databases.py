"""Fresh, real databases for tests: a SQLite file, or a new PostgreSQL database.

PostgreSQL is production's database, so every database test runs on both.
It is found at INTAKE_TEST_POSTGRES_URL, else at 127.0.0.1:5432 (trust auth,
database `test`); where none answers, its runs are skipped with that reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("INTAKE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def postgres_unavailable_reason() -> str | None:
    """None when PostgreSQL answers; otherwise why its runs are skipped."""
    if os.environ.get("INTAKE_TEST_POSTGRES_URL", "x") == "":
        return "INTAKE_TEST_POSTGRES_URL is set empty: PostgreSQL runs disabled"
    try:
        with psycopg.connect(postgres_admin_url(), connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL does not answer at {postgres_admin_url()}: {exc}".strip()


@contextmanager
def fresh_database(kind: str, tmp_dir: Path) -> Iterator[str]:
    """Yield a SQLAlchemy URL of an empty database of `kind`, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_dir / 'intake.db'}"
        return
    name = "intake_test_" + secrets.token_hex(6)
    with psycopg.connect(postgres_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # name is ours: hex only
    base = postgres_admin_url().rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(postgres_admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def every_value(database_url: str) -> list[str]:
    """Every value of every row of every table, as text (bytes as hex and as latin-1)."""
    engine = sa.create_engine(database_url)
    values: list[str] = []
    try:
        metadata = sa.MetaData()
        metadata.reflect(bind=engine)
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    for value in row:
                        if isinstance(value, bytes | memoryview):
                            values += [bytes(value).hex(), bytes(value).decode("latin-1")]
                        else:
                            values.append(str(value))
    finally:
        engine.dispose()
    return values
