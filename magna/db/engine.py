"""Engines and sessions for the embedded SQLite default, PostgreSQL and MariaDB/MySQL.

SQLite runs in WAL mode with foreign keys on and a busy timeout, so the API and an in-process
conductor can share one file. MariaDB/MySQL sessions are made to behave as PostgreSQL's do
(see ``_mysql_engine``). Sessions never expire on commit: services return plain values built
from rows after their transaction ends.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

# Execution option of a session's connection whose transaction only reads.
READ_ONLY = "magna_read_only"

# The URL schemes of MariaDB/MySQL (``mysql+pymysql://``, ``mariadb+pymysql://``).
MYSQL_DIALECTS = ("mysql", "mariadb")

# NOTE: TRADITIONAL makes the server refuse what it would otherwise "fix" with a warning (a
# string longer than its column cut short, an invalid date stored as zeros): nothing written is
# silently changed, as on PostgreSQL.
MYSQL_SQL_MODE = "TRADITIONAL"


def read_options(engine: Engine) -> dict[str, Any]:
    """Execution options for a transaction that only reads.

    SQLite: a deferred ``BEGIN`` (see ``_begin_immediate``). PostgreSQL and MariaDB/MySQL:
    autocommit, so a read pays no ``BEGIN``/``COMMIT`` round trips; each statement is its own
    snapshot, which a read of one resource (or one page) can afford: nothing writes through
    such a connection.
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
    if is_mysql_url(url):
        return _mysql_engine(url)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def missing_driver(url: str) -> str | None:
    """Why ``url``'s database driver cannot be loaded (not a URL, an unknown scheme, a module
    not installed), or None.

    ``mysql://`` alone names mysqlclient, which Magna does not install: ``mysql+pymysql://``
    is the MariaDB/MySQL URL that works out of the box.
    """
    try:
        make_url(url).get_dialect().import_dbapi()
    except (ImportError, ArgumentError) as exc:
        return f"{exc} (MariaDB/MySQL: mysql+pymysql://, PostgreSQL: postgresql+psycopg://)"
    return None


def is_mysql_url(url: str) -> bool:
    """``mysql+pymysql://`` and ``mariadb+pymysql://`` (any driver) both name MariaDB/MySQL."""
    return make_url(url).get_backend_name() in MYSQL_DIALECTS


def _mysql_engine(url: str) -> Engine:
    # NOTE: READ COMMITTED, as PostgreSQL's default: the repository's locking reads rely on a
    # later statement of a transaction seeing what others committed meanwhile (reserve_cluster,
    # lock_cluster then the federation checks). InnoDB's default, REPEATABLE READ, would keep
    # answering from the transaction's first snapshot. utf8mb4: four-byte characters (emoji in
    # a label) are stored, not refused. pool_recycle: the server closes connections idle for
    # wait_timeout (8 h by default); pre-ping and recycling keep a quiet API from finding one
    # dead. SQLAlchemy asks the server for rows matched rather than changed (FOUND_ROWS), so
    # a compare-and-swap that rewrites a value with itself still counts its row.
    connect_args: dict[str, Any] = {"init_command": f"SET SESSION sql_mode='{MYSQL_SQL_MODE}'"}
    if "charset=" not in url:
        connect_args["charset"] = "utf8mb4"
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         pool_recycle=3600, isolation_level="READ COMMITTED",
                         connect_args=connect_args)


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
