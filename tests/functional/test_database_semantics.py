"""What the services assume of their database holds on every backend (SQLite, PostgreSQL,
MariaDB): names compare byte for byte, timestamps keep their microseconds and their instant, a
compare-and-swap counts the row it matched, a duplicate is a ``Conflict``, nothing written is
cut short, and NULLs sort where the paging markers expect them. And a database URL whose
driver cannot load stops Magna with a message naming the setting."""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from magna.common.exceptions import Conflict
from magna.db import engine as db_engine
from magna.db import models, repository
from magna.domain.paging import Page
from tests.conftest import make_conf
from tests.support.api import ApiClient, make_template


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = db_engine.make_engine(db_url)
    yield db_engine.make_session_factory(engine)
    engine.dispose()


def _template(**overrides: Any) -> models.ClusterTemplate:
    values: dict[str, Any] = {"uuid": str(uuidlib.uuid4()), "name": "t", "coe": "swarm-mode",
                              "image_id": "fedora-atomic", "project_id": "p1"}
    values.update(overrides)
    return models.ClusterTemplate(**values)


def test_names_differing_only_in_case_are_different_names(api: ApiClient) -> None:
    upper = make_template(api, name="Web")["uuid"]
    lower = make_template(api, name="web")["uuid"]
    assert api.get("/v1/clustertemplates/web").json()["uuid"] == lower
    assert api.get("/v1/clustertemplates/Web").json()["uuid"] == upper
    assert api.get("/v1/clustertemplates/WEB").status_code == 404


def test_timestamps_keep_microseconds_and_their_instant(
        sessions: sessionmaker[Session]) -> None:
    east = dt.timezone(dt.timedelta(hours=5, minutes=30))
    written = dt.datetime(2026, 12, 6, 16, 0, 1, 123456, tzinfo=east)
    with sessions.begin() as session:
        session.add(_template(name="stamped", created_at=written))
    with sessions() as session:
        read = session.scalars(select(models.ClusterTemplate.created_at)).one()
    assert read == written
    assert read.tzinfo is not None and read.utcoffset() == dt.timedelta(0)
    assert read.microsecond == 123456


def test_four_byte_characters_are_kept(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(_template(labels={"note": "rocket \U0001F680"}))
    with sessions() as session:
        labels = session.scalars(select(models.ClusterTemplate.labels)).one()
    assert labels == {"note": "rocket \U0001F680"}


def test_reserving_a_cluster_we_already_hold_counts_as_taken(
        sessions: sessionmaker[Session]) -> None:
    cluster = str(uuidlib.uuid4())
    with sessions.begin() as session:
        session.add(models.Cluster(uuid=cluster, name="c", cluster_template_id="t",
                                   status="CREATE_IN_PROGRESS"))
        repository.upsert_service_heartbeat(session, "h1", "magnum-conductor")
        repository.upsert_service_heartbeat(session, "h2", "magnum-conductor")
    since = models.utcnow() - dt.timedelta(minutes=1)
    answers = []
    for host in ("h1", "h1", "h2"):
        with sessions.begin() as session:
            answers.append(repository.reserve_cluster(session, cluster, host,
                                                      "magnum-conductor", since))
    assert answers == [True, True, False]


def test_a_duplicate_is_a_conflict_and_the_transaction_goes_on(
        sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        repository.add(session, models.Quota(project_id="p1", resource="Cluster",
                                             hard_limit=1), "taken")
        with pytest.raises(Conflict, match="taken"):
            repository.add(session, models.Quota(project_id="p1", resource="Cluster",
                                                 hard_limit=2), "taken")
        repository.add(session, models.Quota(project_id="p2", resource="Cluster",
                                             hard_limit=3), "taken")
    with sessions() as session:
        limits = session.scalars(select(models.Quota.hard_limit).order_by(models.Quota.id))
        assert list(limits) == [1, 3]


def test_a_value_too_long_for_its_column_is_refused(db_url: str,
                                                    sessions: sessionmaker[Session]) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    with pytest.raises(DataError), sessions.begin() as session:
        session.add(_template(name="n" * 256))
        session.flush()


def test_paging_through_null_names_in_both_directions(
        sessions: sessionmaker[Session]) -> None:
    """NULLs come first going up and last going down, and a marker on either side of them
    carries on from where it was (the API names every template, so rows are written here)."""
    names = [None, "b", None, "a"]
    with sessions.begin() as session:
        rows = [_template(name=name) for name in names]
        session.add_all(rows)
    by_uuid = {row.uuid: row.name for row in rows}
    scope = repository.Scope(project_id="p1")
    for direction, expected in (("asc", [None, None, "a", "b"]),
                                ("desc", ["b", "a", None, None])):
        seen: list[str] = []
        marker: str | None = None
        with sessions() as session:
            while page := repository.list_page(
                    session, models.ClusterTemplate, scope,
                    Page(limit=1, marker=marker, sort_key="name", sort_dir=direction)):
                seen.append(marker := page[0].uuid)
        assert [by_uuid[u] for u in seen] == expected
        assert len(set(seen)) == len(names)


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://magna@127.0.0.1/magna", "No module named 'MySQLdb'"),
    ("oracle+nothing://magna@db/magna", "Can't load plugin"),
])
def test_a_url_whose_driver_cannot_load_is_named_not_a_traceback(
        tmp_path: Path, url: str, says: str) -> None:
    from magna.cmd.compose import prepare_database

    with pytest.raises(SystemExit) as stopped:
        prepare_database(make_conf(tmp_path, url))
    assert str(stopped.value).startswith("[database] connection: cannot load its driver")
    assert says in str(stopped.value) and "mysql+pymysql://" in str(stopped.value)
