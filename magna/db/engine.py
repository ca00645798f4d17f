"""Engines and sessions for the embedded SQLite default and for PostgreSQL.

SQLite runs in WAL mode with foreign keys on and a busy timeout, so the API and an in-process
conductor can share one file. Sessions never expire on commit: services return plain values
built from rows after their transaction ends.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# Execution option of a session's connection whose transaction only reads.
READ_ONLY = "magna_read_only"


def read_options(engine: Engine) -> dict[str, Any]:
    """Execution options for a transaction that only reads.

    SQLite: a deferred ``BEGIN`` (see ``_begin_immediate``). PostgreSQL: autocommit, so a read
    pays no ``BEGIN``/``COMMIT`` round trips; each statement is its own snapshot, which a read
    of one resource (or one page) can afford: nothing writes through such a connection.
    """
    if engine.dialect.name == "sqlite":
        return {READ_ONLY: True}
    return {READ_ONLY: True, "isolation_level": "AUTOCOMMIT"}


def default_url(state_dir: str) -> str:
    """The embedded default: SQLite in the state directory."""
    return "sqlite:///" + os.path.join(state_dir, "magna.db")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            # NOTE: SQLite creates its files with the process umask; the database (and its WAL
            # and shared-memory files, which inherit the mode) is readable by Magna's user only.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(path, 0o600)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # NOTE: pysqlite's own transaction handling mishandles SAVEPOINT (a RELEASE can commit the
    # whole transaction, exposing half-written intent to the conductor). Turn it off and let
    # SQLAlchemy's "begin" event start every transaction itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # NOTE: IMMEDIATE takes the write lock up front. Our transactions read then write; a
    # deferred one could fail when another writer commits between its read and its write.
    # Read-only transactions (``READ_ONLY``) never write: a deferred BEGIN lets them run
    # beside a writer (WAL) instead of queueing for its lock.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
