"""Real clusters for browser and walk-through tests: a server that cleans up, and bounded waits.

A module's ``magna serve`` (default drivers: local swarm) deletes every cluster it holds when
the module ends, and waits until each is gone, whatever the tests did. Waits poll the API with
a deadline and fail saying what never happened; a *_FAILED cluster fails at once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.support.server import RunningServer, magna_server

HEADERS = {"OpenStack-API-Version": "container-infra latest"}
# A build, resize or upgrade of a 1+1 swarm takes seconds; this bounds a slow, shared machine.
SETTLE_S = 180
SETTLE_MS = SETTLE_S * 1000


def template_body(name: str, **overrides: Any) -> dict[str, Any]:
    body = {"name": name, "coe": "swarm-mode", "image_id": "debian-12-docker",
            "external_network_id": "public", "flavor_id": "m1.small",
            "master_flavor_id": "m1.small", "labels": {"from_template": "yes"}}
    return {**body, **overrides}


def api_client(server: RunningServer, token: str | None = None) -> httpx.Client:
    headers = {**HEADERS, **({"X-Auth-Token": token} if token else {})}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def poll(what: str, check: Callable[[], Any], seconds: float = SETTLE_S) -> Any:
    """``check()``'s first truthy answer, or a failure saying what never happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answer := check():
            return answer
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s: {what}")


def settled(api: httpx.Client, uuid: str) -> dict[str, Any]:
    """The cluster once it is in a *_COMPLETE state (a *_FAILED one fails the test)."""
    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/v1/clusters/{uuid}").json()
        assert not body["status"].endswith("FAILED"), body
        return body if body["status"].endswith("COMPLETE") else None
    result: dict[str, Any] = poll(f"cluster {uuid} settles", check)
    return result


def delete_every_cluster(api: httpx.Client) -> None:
    uuids = [c["uuid"] for c in api.get("/v1/clusters").json()["clusters"]]
    for uuid in uuids:
        api.delete(f"/v1/clusters/{uuid}")
    for uuid in uuids:
        poll(f"cluster {uuid} is gone", functools.partial(gone, api, uuid))


def gone(api: httpx.Client, uuid: str) -> bool:
    return api.get(f"/v1/clusters/{uuid}").status_code == 404


@contextmanager
def cleaning_server(state_dir: str) -> Iterator[RunningServer]:
    """``magna serve`` with the default drivers; every cluster deleted before it stops."""
    with magna_server(state_dir) as running:
        try:
            yield running
        finally:
            with api_client(running) as api:
                delete_every_cluster(api)


def module_fixtures(name: str) -> tuple[Any, Any]:
    """A test module's ``server`` (cleaning, state in a fresh ``name`` directory) and ``api``
    (an admin client of it) fixtures: ``server, api = module_fixtures("dash-x")``."""
    @pytest.fixture(scope="module")
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
        with cleaning_server(str(tmp_path_factory.mktemp(name))) as running:
            yield running

    @pytest.fixture(scope="module")
    def api(server: RunningServer) -> Iterator[httpx.Client]:
        with api_client(server) as client:
            yield client

    return server, api
