"""Engine and sessions, built from `Settings` (never at import time)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option marking a connection that only reads (see `_begin`).
READ_ONLY = "intake_read_only"
T = TypeVar("T")
# As many connections as the worker threads that use them (anyio's default
# 40), so a burst queues on threads, not on the pool; a request still waiting
# after `pool_timeout` is answered 503 (app.main), not left hanging.
_POOL: dict[str, Any] = {"pool_size": 10, "max_overflow": 30, "pool_timeout": 10}


def make_engine(settings: Settings) -> Engine:
    """The engine for `settings.database_url`, with SQLite made safe to share."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **_POOL)

    in_file = bool(url.database) and url.database != ":memory:"
    connect_args: dict[str, Any] = {"check_same_thread": False}
    if in_file:
        database = Path(str(url.database)).absolute()
        database.parent.mkdir(parents=True, exist_ok=True)
        round_times = _hour_rounder(database)
        connect_args["factory"] = _closing_rounds_times(round_times)
    # An in-memory database lives in one connection: no pool to size.
    pool = _POOL if in_file else {}
    engine = create_engine(url, connect_args=connect_args, **pool)
    if in_file:
        # Every use of a connection ends here, after its last read or write:
        # the one place that sets the files' times back to the hour.
        event.listen(engine, "checkin", lambda *_: round_times())

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=FULL")
        # Overwrite freed content with zeros: a deleted reply or a receipted
        # submission's rows must not linger in free pages for a seized disk
        # to show. Many builds (Debian's) already default to it; others don't.
        cursor.execute("PRAGMA secure_delete=ON")
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


def _hour_rounder(database: Path) -> Callable[[], None]:
    """Sets the times of a SQLite database's files (the database, its WAL,
    shared memory and rollback journal) and of their directory to the hour.

    SQLite writes the WAL and shared memory on every commit (readers write
    the shared memory too), and each read moves the access time: left
    alone, a seized disk dates the last upload, reply or mailbox read to
    the nanosecond, defeating the hour-rounding of every stored time. A few
    `utime` calls per connection use (microseconds) keep them to the hour."""
    paths = [database.with_name(database.name + suffix) for suffix in _SQLITE_SUFFIXES]
    paths.append(database.parent)

    def round_times() -> None:
        clock.round_file_times(*paths)

    return round_times


_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def _closing_rounds_times(round_times: Callable[[], None]) -> type[sqlite3.Connection]:
    """A sqlite3 connection class that rounds the file times once closed: the
    last connection to close checkpoints the WAL into the database and
    removes the WAL and shared memory files (the pool's own "close" event
    comes before that)."""

    class Connection(sqlite3.Connection):
        def close(self) -> None:
            try:
                super().close()
            finally:
                round_times()

    return Connection


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_connection(engine: Engine) -> Connection:
    """A connection that only reads: with SQLite a deferred transaction, which
    never waits for (or holds) the write lock (see `_begin`)."""
    return engine.connect().execution_options(**{READ_ONLY: True})


@contextmanager
def core_transaction(engine: Engine) -> Iterator[Connection]:
    """`transaction` for work done with Core statements (blob rows, upload
    slots): committed when the block ends, rolled back if it raises, and
    likewise run inside one worker-thread call. Each is short on purpose:
    the upload commits its row changes apart from the blob writes, so no
    transaction is held while bytes are stored."""
    with engine.begin() as connection:
        yield connection


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction that sees a single moment of the database
    (a backup copies it): REPEATABLE READ on PostgreSQL, a deferred
    transaction on SQLite, which never takes the write lock."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        options: dict[str, Any] = {
            "isolation_level": "REPEATABLE READ",
            "postgresql_readonly": True,
        }
    elif dialect == "sqlite":
        options = {READ_ONLY: True}
    else:
        raise ValueError(f"no snapshot for {dialect} databases")
    with engine.connect().execution_options(**options) as conn, conn.begin():
        yield conn


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session on a `read_connection`."""
    with read_connection(engine) as connection, Session(connection) as session:
        yield session


@contextmanager
def transaction(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """The one unit of work that writes: committed when the block ends,
    rolled back if it raises. Begun, used and committed inside one
    worker-thread call (`writing`, or a service a route runs in one): with
    SQLite the write lock is then held for the work alone, never across the
    hops to the event loop that a request-wide session makes."""
    with session_factory() as session, session.begin():
        yield session


async def writing(session_factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """Runs `work` in one `transaction` inside one worker-thread call, the
    twin of `reading`. It commits before the route answers, so a failed
    commit is never answered with success."""

    def run() -> T:
        with transaction(session_factory) as session:
            return work(session)

    return await run_in_threadpool(run)


async def reading(engine: Engine, work: Callable[[Session], T]) -> T:
    """Runs `work` with a read-only session inside one worker-thread call.

    A connection is then held only while a thread runs. A session held by a
    dependency across awaits is not: under a burst, requests holding
    connections wait for threads while every thread waits for a connection
    (a deadlock until the pool's timeout). Public, high-traffic routes use
    this, or a transaction opened and committed inside one thread call."""

    def run() -> T:
        with read_session(engine) as session:
            return work(session)

    return await run_in_threadpool(run)


def forget_deleted(engine: Engine) -> None:
    """SQLite: copy the write-ahead log into the database and empty it.

    `secure_delete` zeroes a deleted row's space in the database file, but
    the log still holds the page written when the row arrived (a reply, a
    blob row) until a checkpoint restarts it: a disk seized from the running
    server would show it. Called after deleting what an applicant or a
    verifier asked to be gone. Best effort: a reader holding an old snapshot
    makes SQLite keep the log until the next one. PostgreSQL keeps such
    bytes in its own WAL and dead tuples (SECURITY.md: disk encryption)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        # The driver's connection, outside any transaction SQLAlchemy would
        # begin: a checkpoint inside a transaction cannot empty the log.
        dbapi = connection.connection.driver_connection
        if dbapi is not None:
            dbapi.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (typed `Result` hides the cursor's count)."""
    return int(cast("CursorResult[Any]", result).rowcount)
