"""Backing services the tests need (PostgreSQL, RabbitMQ): started if they are down.

The commands are the machine's own (see the machine notes); each check is a TCP connect.
"""

from __future__ import annotations

import fcntl
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


@contextmanager
def broker_to_ourselves() -> Iterator[None]:
    """Hold the host-wide lock of tests that use (or restart) the shared RabbitMQ broker."""
    with open(os.path.join(tempfile.gettempdir(), "magna-tests-rabbitmq.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
