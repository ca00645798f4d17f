"""Shared fixtures: configuration, an in-process API on SQLite, PostgreSQL or MariaDB, a real
server.

Databases are migrated once per session: SQLite tests copy a migrated file, PostgreSQL and
MariaDB tests share one migrated database each that is emptied before each test. Migration
tests use ``empty_db_url`` for a database nothing has touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from magna import conf as magna_conf
from magna.db import migrate
from magna.db.models import Base

# NOTE: tests/support holds helpers that test modules share, many of them moved out of a test
# module; pytest rewrites the asserts of test modules and conftests only, so it is told to
# rewrite these too (before the first of them is imported, below): a helper's failing assert
# then shows its values as it did in the test module.
pytest.register_assert_rewrite("tests.support")

from tests.keystone_server import keystone  # noqa: E402, F401
from tests.support import backing  # noqa: E402
from tests.support.api import ApiClient  # noqa: E402
from tests.support.browser import chromium, tab  # noqa: E402, F401

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
             pytest.param("mariadb", marks=pytest.mark.mariadb)]


def make_conf(state_dir: Path, db_url: str | None = None,
              **overrides: dict[str, Any]) -> cfg.ConfigOpts:
    groups: dict[str, dict[str, Any]] = {"DEFAULT": {"state_dir": str(state_dir)}}
    if db_url:
        groups["database"] = {"connection": db_url, "auto_upgrade": False}
    for group, values in overrides.items():
        groups.setdefault(group, {}).update(values)
    return magna_conf.load([], [], overrides=groups)


@contextmanager
def api_with_policy_file(tmp_path: Path, db_url: str | None, rules: str
                         ) -> Iterator[ApiClient]:
    """An in-process API whose policy file holds ``rules`` (YAML) on top of the defaults."""
    from magna.cmd.api import build_app

    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(rules)
    conf = make_conf(tmp_path, db_url, oslo_policy={"policy_file": str(policy_file)})
    with TestClient(build_app(conf)) as client:
        yield ApiClient(client)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "magna.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[str]:
    with backing.postgres_database() as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def migrated_mariadb() -> Iterator[str]:
    with backing.mariadb_database() as url:
        migrate.upgrade(url)
        yield url


def _empty(url: str) -> None:
    """Delete every row and restart the id sequences (cheaper than TRUNCATE's new files)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), 1, false)"))
    finally:
        engine.dispose()


def _empty_mariadb(url: str) -> None:
    """Empty the tables a test wrote to and restart their ids.

    NOTE: a table whose next id is 1 was never written to since its last restart; the others
    are emptied, children first, and restarted (an ALTER, which MariaDB does in place).
    """
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            used = set(connection.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "DATABASE() AND auto_increment > 1")).scalars())
            for table in reversed(Base.metadata.sorted_tables):
                if table.name in used:
                    connection.execute(table.delete())
                    connection.execute(text(f"ALTER TABLE `{table.name}` AUTO_INCREMENT = 1"))
    finally:
        engine.dispose()


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test using this runs three times: on the embedded SQLite, on PostgreSQL and on
    MariaDB."""
    if request.param == "sqlite":
        path = tmp_path / "magna.db"
        shutil.copy(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    if request.param == "mariadb":
        url: str = request.getfixturevalue("migrated_mariadb")
        _empty_mariadb(url)
        return url
    url = request.getfixturevalue("migrated_postgres")
    _empty(url)
    return url


@pytest.fixture(params=DATABASES)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database no migration has touched, on SQLite, PostgreSQL and MariaDB (this one made
    with the server's default collation, which the migrations must correct)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if request.param == "mariadb":
        with backing.mariadb_database(as_readme_says=False) as url:
            yield url
        return
    with backing.postgres_database() as url:
        yield url


@pytest.fixture
def conf(tmp_path: Path, db_url: str) -> cfg.ConfigOpts:
    return make_conf(tmp_path, db_url)


@pytest.fixture
def api(conf: cfg.ConfigOpts) -> Iterator[ApiClient]:
    """A local administrator (noauth, no identity headers) at the latest microversion."""
    from magna.cmd.api import build_app

    with TestClient(build_app(conf)) as client:
        yield ApiClient(client)


# pytest-xdist: ``./dev test`` runs two workers with ``--dist loadfile`` (each module whole on
# one worker: several modules build state step by step on one server). The modules that use
# the host's one RabbitMQ broker (two of them stop and start it, and its fanout exchange is
# shared) take turns: each holds a host-wide lock while it runs.
BROKER_MODULES = {"test_messaging.py", "test_conductor_processes.py",
                  "test_conductor_processes_local.py"}


@pytest.fixture(scope="module", autouse=True)
def _broker_taken_in_turn(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.path.name not in BROKER_MODULES:
        yield
        return
    with backing.broker_to_ourselves():
        yield
