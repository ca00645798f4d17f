"""A conductor's state from its last heartbeat: pure input -> output."""

from __future__ import annotations

import datetime as dt

import pytest

from magna.db import models
from magna.services.mservices import is_up, last_heartbeat

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("seconds_ago", "up"), [
    (0, True), (180, True), (181, False), (-60, True), (-181, False)])
def test_up_within_service_down_time_either_side_of_now(seconds_ago: int, up: bool) -> None:
    beat = NOW - dt.timedelta(seconds=seconds_ago)
    assert is_up(last_heartbeat=beat, forced_down=False, now=NOW, down_time=180) is up


def test_forced_down_wins_over_a_fresh_heartbeat() -> None:
    assert is_up(last_heartbeat=NOW, forced_down=True, now=NOW, down_time=180) is False


def test_no_heartbeat_at_all_is_down() -> None:
    assert is_up(last_heartbeat=None, forced_down=False, now=NOW, down_time=180) is False


def test_last_heartbeat_prefers_last_seen_up_then_updated_then_created() -> None:
    a, b, c = (NOW - dt.timedelta(minutes=n) for n in (1, 2, 3))
    row = models.MagnumService(host="h", binary="magnum-conductor", last_seen_up=a,
                               updated_at=b, created_at=c)
    assert last_heartbeat(row) == a
    row.last_seen_up = None
    assert last_heartbeat(row) == b
    row.updated_at = None
    assert last_heartbeat(row) == c
