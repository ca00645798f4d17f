"""mservices: conductors' heartbeats, judged up or down when an admin lists them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from oslo_config import cfg
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from magna.db import engine as db_engine
from magna.db import models, repository
from tests.support.api import ApiClient, assert_error

KEYS = ["host", "binary", "state", "id", "report_count", "disabled", "disabled_reason",
        "created_at", "updated_at"]


@pytest.fixture
def sessions(conf: cfg.ConfigOpts, api: ApiClient) -> Iterator[sessionmaker[Session]]:
    """The API's database, as a conductor would write it (``api`` has migrated it)."""
    from magna.cmd.compose import database_url

    engine = db_engine.make_engine(database_url(conf))
    yield db_engine.make_session_factory(engine)
    engine.dispose()


def beat(sessions: sessionmaker[Session], host: str) -> None:
    with sessions.begin() as session:
        repository.upsert_service_heartbeat(session, host, "magnum-conductor")


def age(sessions: sessionmaker[Session], host: str, seconds: int, **values: object) -> None:
    """Pretend ``host`` last beat ``seconds`` ago."""
    then = models.utcnow() - dt.timedelta(seconds=seconds)
    with sessions.begin() as session:
        session.execute(update(models.MagnumService).where(models.MagnumService.host == host)
                        .values({"updated_at": then, "last_seen_up": then, "created_at": then,
                                 **values}))


def services(api: ApiClient) -> dict[str, dict[str, object]]:
    response = api.get("/v1/mservices")
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"mservices"}
    return {item["host"]: item for item in response.json()["mservices"]}


def test_no_conductor_has_registered_yet(api: ApiClient) -> None:
    assert services(api) == {}


def test_a_beating_conductor_is_up_and_counts_its_reports(
        api: ApiClient, sessions: sessionmaker[Session]) -> None:
    beat(sessions, "h1")
    first = services(api)["h1"]
    assert list(first) == KEYS
    assert first["binary"] == "magnum-conductor" and first["state"] == "up"
    assert first["report_count"] == 1 and first["disabled"] is False
    assert first["disabled_reason"] is None and first["updated_at"] is not None
    beat(sessions, "h1")
    again = services(api)["h1"]
    assert again["report_count"] == 2 and again["id"] == first["id"]


def test_a_silent_conductor_is_down(api: ApiClient, sessions: sessionmaker[Session]) -> None:
    beat(sessions, "fresh")
    beat(sessions, "recent")
    beat(sessions, "silent")
    age(sessions, "recent", 170)
    age(sessions, "silent", 181)
    states = {host: item["state"] for host, item in services(api).items()}
    assert states == {"fresh": "up", "recent": "up", "silent": "down"}
    beat(sessions, "silent")
    assert services(api)["silent"]["state"] == "up"


def test_a_conductor_without_last_seen_up_is_judged_by_updated_at(
        api: ApiClient, sessions: sessionmaker[Session]) -> None:
    beat(sessions, "h1")
    age(sessions, "h1", 600, last_seen_up=None)
    assert services(api)["h1"]["state"] == "down"
    age(sessions, "h1", 10, last_seen_up=None)
    assert services(api)["h1"]["state"] == "up"


def test_a_forced_down_conductor_is_down(api: ApiClient,
                                         sessions: sessionmaker[Session]) -> None:
    beat(sessions, "h1")
    age(sessions, "h1", 0, forced_down=True)
    assert services(api)["h1"]["state"] == "down"


def test_only_admins_list_services(api: ApiClient) -> None:
    assert_error(api.as_user("p1").get("/v1/mservices"), 403,
                 "Policy doesn't allow magnum-service:get_all to be performed.")
