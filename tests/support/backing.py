"""Backing services the tests need (PostgreSQL, MariaDB, RabbitMQ): started if they are down.

The commands are the machine's own (see the machine notes); each check is a TCP connect.
"""

from __future__ import annotations

import fcntl
import functools
import glob
import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

PG_HOST, PG_PORT = "127.0.0.1", 5432
MARIADB_HOST, MARIADB_PORT = "127.0.0.1", 3306
# NOTE: the tests' own account, which may make and drop only databases named magna_test_*:
# Debian's MariaDB lets root in through its socket alone (unix_socket authentication), and the
# tests connect over TCP as Magna would, with a user and a password.
MARIADB_USER, MARIADB_PASSWORD = "magna_test", "magna-test"


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_postgres() -> None:
    if port_open(PG_HOST, PG_PORT):
        return
    versions = sorted(os.path.basename(p) for p in glob.glob("/etc/postgresql/*"))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed (no /etc/postgresql/*).")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main",
                    "start"], check=True)
    _wait(PG_HOST, PG_PORT, "PostgreSQL")


def ensure_mariadb() -> None:
    """MariaDB up, and the tests' account in it (made once through root's socket login)."""
    if not port_open(MARIADB_HOST, MARIADB_PORT):
        if not os.path.exists("/usr/sbin/mariadbd"):
            raise RuntimeError("MariaDB is not installed (no /usr/sbin/mariadbd; ./dev "
                               "installs mariadb-server).")
        subprocess.run(["service", "mariadb", "start"], check=True, stdout=subprocess.DEVNULL)
        _wait(MARIADB_HOST, MARIADB_PORT, "MariaDB", timeout=60)
    _mariadb_test_account()


@functools.cache
def _mariadb_test_account() -> None:
    grants = []
    for host in ("127.0.0.1", "localhost"):
        account = f"'{MARIADB_USER}'@'{host}'"
        grants += [f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{MARIADB_PASSWORD}'",
                   f"GRANT ALL PRIVILEGES ON `magna\\_test\\_%`.* TO {account}",
                   # PROCESS: a test sees which transactions wait on a row lock.
                   f"GRANT PROCESS ON *.* TO {account}"]
    subprocess.run(["mariadb", "--protocol=socket", "--user=root", "--execute",
                    ";".join(grants)], check=True)


def ensure_rabbitmq() -> None:
    if port_open("127.0.0.1", 5672):
        return
    subprocess.run(["rabbitmq-server", "-detached"], check=True)
    _wait("127.0.0.1", 5672, "RabbitMQ", timeout=60)


def _wait(host: str, port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not start listening on {host}:{port}")


def _admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test scope; dropped afterwards."""
    ensure_postgres()
    name = f"magna_test_{uuid.uuid4().hex[:12]}"
    _admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mariadb_admin(sql: str) -> None:
    import pymysql

    connection = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER,
                                 password=MARIADB_PASSWORD, autocommit=True, ssl_disabled=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


@contextmanager
def mariadb_database(as_readme_says: bool = True) -> Iterator[str]:
    """A fresh, empty MariaDB database for one test scope; dropped afterwards.

    ``as_readme_says``: created as the README tells operators to (utf8mb4, compared byte for
    byte); otherwise with the server's defaults (case-insensitive), which Magna must correct.
    """
    ensure_mariadb()
    name = f"magna_test_{uuid.uuid4().hex[:12]}"
    collation = " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" if as_readme_says else ""
    _mariadb_admin(f"CREATE DATABASE `{name}`{collation}")
    try:
        # NOTE: ssl_disabled: the test server offers no TLS, and PyMySQL would build (and
        # throw away) a TLS context for every connection it opens to find that out, which on
        # this machine costs 100-300 ms a connection against 5-30 ms without.
        yield (f"mysql+pymysql://{MARIADB_USER}:{MARIADB_PASSWORD}@{MARIADB_HOST}:"
               f"{MARIADB_PORT}/{name}?ssl_disabled=true")
    finally:
        _mariadb_admin(f"DROP DATABASE IF EXISTS `{name}`")


@contextmanager
def broker_to_ourselves() -> Iterator[None]:
    """Hold the host-wide lock of tests that use (or restart) the shared RabbitMQ broker."""
    with open(os.path.join(tempfile.gettempdir(), "magna-tests-rabbitmq.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
