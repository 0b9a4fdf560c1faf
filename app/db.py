"""Engine and sessions, built from `Settings` (never at import time)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option marking a connection that only reads (see `_begin`).
READ_ONLY = "intake_read_only"


def make_engine(settings: Settings) -> Engine:
    """The engine for `settings.database_url`, with SQLite made safe to share."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that
        # reads and then writes fails at once (SQLITE_BUSY, no waiting) when
        # another connection wrote in between, which would turn concurrent
        # finalise or receipts into random errors. Pure readers (the blob
        # store's) ask for DEFERRED so they never wait on a writer.
        deferred = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled
    back if it raises (before the response is sent, so a failed commit is
    never answered with success)."""
    factory: sessionmaker[Session] = request.app.state.runtime.session_factory
    with factory() as session, session.begin():
        yield session


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (typed `Result` hides the cursor's count)."""
    return int(cast("CursorResult[Any]", result).rowcount)


SessionDep = Annotated[Session, Depends(_session, scope="function")]
