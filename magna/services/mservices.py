"""Conductor liveness for ``/v1/mservices``: heartbeat rows judged up or down when asked.

Conductors write one row per ``(host, binary)`` and bump it on every heartbeat
(``repository.upsert_service_heartbeat``). Nothing ever marks a row down: the state is computed
here, at request time, from the age of the last heartbeat against ``[DEFAULT]
service_down_time``, so a conductor that dies silently shows ``down`` without anyone noticing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from magna.common.context import RequestContext
from magna.db import models, repository
from magna.db.models import utcnow
from magna.services import Services


@dataclass(frozen=True)
class ServiceState:
    row: models.MagnumService
    state: str


def is_up(*, last_heartbeat: dt.datetime | None, forced_down: bool, now: dt.datetime,
          down_time: int) -> bool:
    """Up unless forced down or silent for longer than ``down_time`` seconds."""
    if forced_down or last_heartbeat is None:
        return False
    # NOTE: as upstream, the age is taken in absolute value, so a heartbeat stamped slightly in
    # the future (clock skew between hosts) still counts as recent.
    return abs((now - last_heartbeat).total_seconds()) <= down_time


def last_heartbeat(row: models.MagnumService) -> dt.datetime | None:
    return row.last_seen_up or row.updated_at or row.created_at


def list_(svc: Services, ctx: RequestContext) -> list[ServiceState]:
    svc.authz.authorize(ctx, "magnum-service:get_all")
    with svc.transaction() as session:
        rows = repository.list_services(session)
    now = utcnow()
    down_time = svc.conf.service_down_time
    return [ServiceState(row, "up" if is_up(last_heartbeat=last_heartbeat(row),
                                            forced_down=row.forced_down, now=now,
                                            down_time=down_time) else "down")
            for row in rows]
