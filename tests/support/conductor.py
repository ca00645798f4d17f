"""An API plus an in-process conductor on the fake driver, for workflow tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oslo_config import cfg
from starlette.testclient import TestClient

from magna.api.app import create_app
from magna.cmd.compose import build_serve, build_services
from magna.conductor.service import Conductor
from magna.services import Services
from tests.support.api import ApiClient

FAST = {"sweep_interval": 0.2, "heartbeat_interval": 0.2, "dead_after": 2.0,
        "fence_margin": 1.0, "health_interval": 0.3, "workers": 2}


@dataclass
class Stack:
    api: ApiClient
    conductor: Conductor
    services: Services
    state_dir: Path

    def wait_status(self, uuid: str, *wanted: str, timeout: float = 20) -> dict[str, Any]:
        try:
            return wait_for(lambda: _status_in(self.api, uuid, wanted), timeout,
                            f"cluster {uuid} to reach {wanted}")
        except AssertionError as exc:
            last = self.api.get(f"/v1/clusters/{uuid}").json()
            events = self.api.get(f"/v1/clusters/{uuid}/events").json()
            raise AssertionError(f"{exc}; last seen {last}; events {events}") from None

    def wait_gone(self, uuid: str, timeout: float = 20) -> None:
        wait_for(lambda: self.api.get(f"/v1/clusters/{uuid}").status_code == 404 or None,
                 timeout, f"cluster {uuid} to disappear")


def _status_in(api: ApiClient, uuid: str, wanted: tuple[str, ...]) -> dict[str, Any] | None:
    response = api.get(f"/v1/clusters/{uuid}")
    body: dict[str, Any] = response.json()
    return body if response.status_code == 200 and body["status"] in wanted else None


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def fake_template_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "fake-template", "coe": "swarm-mode",
                            "image_id": "fake-image", "external_network_id": "public",
                            "flavor_id": "m1.small", "master_flavor_id": "m1.small"}
    body.update(overrides)
    return body


@contextmanager
def conductor_stack(conf: cfg.ConfigOpts, state_dir: Path, nudge: bool = True
                    ) -> Iterator[Stack]:
    if nudge:
        services, conductor = build_serve(conf)
    else:
        services = build_services(conf)
        conductor = Conductor(services)
    conductor.start()
    try:
        with TestClient(create_app(conf, services)) as client:
            yield Stack(ApiClient(client), conductor, services, state_dir)
    finally:
        conductor.stop()
        services.close()
