"""Shared fixtures: configuration, an in-process API on SQLite or PostgreSQL, a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg
from starlette.testclient import TestClient

from magna import conf as magna_conf
from tests.keystone_server import keystone  # noqa: F401
from tests.support import backing
from tests.support.api import ApiClient



def make_conf(state_dir: Path, db_url: str | None = None,
              **overrides: dict[str, Any]) -> cfg.ConfigOpts:
    groups: dict[str, dict[str, Any]] = {"DEFAULT": {"state_dir": str(state_dir)}}
    if db_url:
        groups["database"] = {"connection": db_url}
    for group, values in overrides.items():
        groups.setdefault(group, {}).update(values)
    return magna_conf.load([], [], overrides=groups)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every test using this runs twice: on the embedded SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'magna.db'}"
        return
    with backing.postgres_database() as url:
        yield url


@pytest.fixture
def conf(tmp_path: Path, db_url: str) -> cfg.ConfigOpts:
    return make_conf(tmp_path, db_url)


@pytest.fixture
def api(conf: cfg.ConfigOpts) -> Iterator[ApiClient]:
    """A local administrator (noauth, no identity headers) at the latest microversion."""
    from magna.api.app import create_app

    with TestClient(create_app(conf)) as client:
        yield ApiClient(client)
