"""Prometheus metrics, scraped from real processes the way Prometheus does.

``magna serve`` on the fake driver with one API worker, and with two (the workers' series
reach the parent's listener through the multi-process directory): every family parses with the
library's own parser, request counters move by route template and status, the cluster gauges
move when a cluster is created and deleted, and the conductor's pass and driver-call histograms
count what it did. ``magna-conductor`` alone exports its own series on its own port.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api import LATEST, template_body
from tests.support.server import RunningServer, free_port, magna_server, stop_process, write_config

FAST = {"sweep_interval": 0.3, "heartbeat_interval": 0.5, "health_interval": 0.3}
API_FAMILIES = {"magna_api_requests", "magna_api_request_duration_seconds", "magna_clusters",
                "magna_clusters_by_health"}
CONDUCTOR_FAMILIES = {"magna_conductor_queue_depth", "magna_conductor_reconcile_duration_seconds",
                      "magna_driver_operation_duration_seconds"}
CLUSTER_ROUTE = "/v1/clusters/{ident}"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Scraper:
    def __init__(self, url: str) -> None:
        self.url = url

    def families(self) -> dict[str, list[tuple[str, dict[str, str], float]]]:
        response = httpx.get(self.url, timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return {family.name: [(s.name, s.labels, s.value) for s in family.samples]
                for family in text_string_to_metric_families(response.text)}

    def samples(self) -> Samples:
        return {(name, frozenset(labels.items())): value
                for found in self.families().values() for name, labels, value in found}

    def value(self, name: str, **labels: str) -> float:
        return self.samples().get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module", params=[1, 2], ids=["one-worker", "two-workers"])
def magna(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[RunningServer, Scraper]]:
    port = free_port()
    extra: dict[str, dict[str, object]] = {
        "api": {"workers": request.param}, "drivers": {"enabled_drivers": "fake"},
        "conductor": FAST, "metrics": {"port": port}}
    with magna_server(str(tmp_path_factory.mktemp("metrics")), extra=extra) as server:
        yield server, Scraper(f"http://127.0.0.1:{port}/metrics")


def _api(server: RunningServer, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, server.url + path, headers=LATEST, timeout=30,
                         **kwargs)  # type: ignore[arg-type]


def _wait(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_every_family_parses(magna: tuple[RunningServer, Scraper]) -> None:
    _, scraper = magna
    families = scraper.families()
    assert set(families) >= API_FAMILIES | CONDUCTOR_FAMILIES
    clusters = {labels["status"] for _, labels, _ in families["magna_clusters"]}
    assert {"CREATE_IN_PROGRESS", "CREATE_COMPLETE", "DELETE_FAILED"} <= clusters


def test_only_the_configured_path_answers(magna: tuple[RunningServer, Scraper]) -> None:
    _, scraper = magna
    response = httpx.get(scraper.url.removesuffix("/metrics") + "/v1/clusters", timeout=10)
    assert response.status_code == 404
    assert "/metrics" in response.text


def test_requests_are_counted_by_route_template_and_status(
        magna: tuple[RunningServer, Scraper]) -> None:
    server, scraper = magna
    missing = {"method": "GET", "route": CLUSTER_ROUTE, "status": "404"}
    listed = {"method": "GET", "route": "/v1/clusters", "status": "200"}
    before = [scraper.value("magna_api_requests_total", **labels) for labels in (missing, listed)]
    strays = [str(uuid.uuid4()) for _ in range(3)]
    for stray in strays:
        assert _api(server, "GET", f"/v1/clusters/{stray}").status_code == 404
    assert _api(server, "GET", "/v1/clusters").status_code == 200
    assert scraper.value("magna_api_requests_total", **missing) == before[0] + 3
    assert scraper.value("magna_api_requests_total", **listed) == before[1] + 1
    assert scraper.value("magna_api_request_duration_seconds_count", **missing) >= 3
    text = httpx.get(scraper.url, timeout=10).text
    assert not any(stray in text for stray in strays), "a raw path became a label value"


def test_requests_refused_before_routing_keep_their_route(
        magna: tuple[RunningServer, Scraper]) -> None:
    server, scraper = magna
    labels = {"method": "GET", "route": CLUSTER_ROUTE, "status": "406"}
    before = scraper.value("magna_api_requests_total", **labels)
    response = httpx.get(f"{server.url}/v1/clusters/{uuid.uuid4()}", timeout=30,
                         headers={"OpenStack-API-Version": "container-infra 9.99"})
    assert response.status_code == 406
    assert scraper.value("magna_api_requests_total", **labels) == before + 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    before = scraper.value("magna_api_requests_total", **unmatched)
    assert _api(server, "GET", f"/v1/no-such-thing/{uuid.uuid4()}").status_code == 404
    assert scraper.value("magna_api_requests_total", **unmatched) == before + 1


def test_cluster_gauges_and_conductor_histograms_move(
        magna: tuple[RunningServer, Scraper]) -> None:
    server, scraper = magna
    before = scraper.samples()

    def grew(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return scraper.value(name, **labels) - before.get(key, 0.0)

    template = _api(server, "POST", "/v1/clustertemplates",
                    json=template_body(name=f"t-{uuid.uuid4().hex[:8]}", image_id="fake-image"))
    assert template.status_code == 201, template.text
    created = _api(server, "POST", "/v1/clusters", json={
        "name": f"c-{uuid.uuid4().hex[:8]}", "cluster_template_id": template.json()["uuid"],
        "master_count": 1, "node_count": 1})
    assert created.status_code == 202, created.text
    cluster = created.json()["uuid"]
    _wait(lambda: grew("magna_clusters", status="CREATE_COMPLETE") == 1, "CREATE_COMPLETE")
    assert grew("magna_conductor_reconcile_duration_seconds_count", outcome="converged") >= 1
    assert grew("magna_driver_operation_duration_seconds_count", driver="fake",
                operation="apply", outcome="ok") >= 1
    _wait(lambda: grew("magna_driver_operation_duration_seconds_count", driver="fake",
                       operation="observe", outcome="ok") >= 1, "a health observation")
    healths = scraper.families()["magna_clusters_by_health"]
    statuses = scraper.families()["magna_clusters"]
    assert sum(v for _, _, v in healths) == sum(v for _, _, v in statuses)

    assert _api(server, "DELETE", f"/v1/clusters/{cluster}").status_code == 204
    _wait(lambda: _api(server, "GET", f"/v1/clusters/{cluster}").status_code == 404, "deletion")
    assert grew("magna_clusters", status="CREATE_COMPLETE") == 0
    assert grew("magna_conductor_reconcile_duration_seconds_count", outcome="deleted") == 1
    assert grew("magna_driver_operation_duration_seconds_count", driver="fake",
                operation="delete", outcome="ok") >= 1


def test_waits_and_failures_have_their_outcomes(magna: tuple[RunningServer, Scraper]) -> None:
    server, scraper = magna
    before = scraper.samples()

    def grew(name: str, **labels: str) -> float:
        return scraper.value(name, **labels) - before.get((name, frozenset(labels.items())), 0.0)

    template = _api(server, "POST", "/v1/clustertemplates",
                    json=template_body(name=f"t-{uuid.uuid4().hex[:8]}", image_id="fake-image"))
    assert template.status_code == 201, template.text
    created = _api(server, "POST", "/v1/clusters", json={
        "name": f"f-{uuid.uuid4().hex[:8]}", "cluster_template_id": template.json()["uuid"],
        "master_count": 1, "node_count": 1,
        "labels": {"fake_temporary": "2", "fake_fail_on": "create"}})
    assert created.status_code == 202, created.text
    _wait(lambda: grew("magna_clusters", status="CREATE_FAILED") == 1, "CREATE_FAILED")
    apply = {"driver": "fake", "operation": "apply"}
    assert grew("magna_driver_operation_duration_seconds_count", **apply,
                outcome="temporary") >= 1
    assert grew("magna_driver_operation_duration_seconds_count", **apply,
                outcome="permanent") == 1
    assert grew("magna_conductor_reconcile_duration_seconds_count", outcome="waiting") >= 1
    assert grew("magna_conductor_reconcile_duration_seconds_count", outcome="failed") == 1


def test_a_bad_metrics_setting_stops_the_server_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "magna.conf"
    write_config(str(config), {"DEFAULT": {"state_dir": tmp_path / "state"},
                               "api": {"port": free_port()},
                               "drivers": {"enabled_drivers": "fake"},
                               "metrics": {"port": free_port(), "path": "metrics"}})
    done = subprocess.run([sys.executable, "-m", "magna", "--config-file", str(config),
                           "serve"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "[metrics]" in done.stderr and "option path" in done.stderr, done.stderr


def test_a_lone_conductor_exports_its_own_series(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "magna.conf"
    write_config(str(config), {"DEFAULT": {"state_dir": tmp_path / "state"},
                               "drivers": {"enabled_drivers": "fake"}, "conductor": FAST,
                               "metrics": {"conductor_port": port}})
    log = tmp_path / "conductor.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "magna.cmd.conductor",
                                    "--config-file", str(config)], stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    scraper = Scraper(f"http://127.0.0.1:{port}/metrics")
    try:
        _wait(lambda: _answers(scraper.url) or process.poll() is not None, "the listener")
        assert process.poll() is None, log.read_text()
        families = scraper.families()
        assert set(families) >= CONDUCTOR_FAMILIES
        assert not API_FAMILIES & set(families), "the API side's series belong to magna-api"
        assert families["magna_conductor_queue_depth"][0][2] == 0
    finally:
        stop_process(process)


def test_a_taken_metrics_port_stops_the_server_with_the_option_named(tmp_path: Path) -> None:
    with magna_server(str(tmp_path / "first"), extra={"drivers": {"enabled_drivers": "fake"},
                                                      "metrics": {"port": free_port()}}) as first:
        taken = int(first_metrics_port(first))
        config = tmp_path / "second.conf"
        write_config(str(config), {"DEFAULT": {"state_dir": tmp_path / "second"},
                                   "api": {"port": free_port()},
                                   "drivers": {"enabled_drivers": "fake"},
                                   "metrics": {"port": taken}})
        done = subprocess.run([sys.executable, "-m", "magna", "--config-file", str(config),
                               "serve"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "[metrics] port" in done.stderr, done.stderr
    assert not (tmp_path / "second" / "magna.db").exists(), "checked only after migrating"


def first_metrics_port(server: RunningServer) -> str:
    """The ``[metrics] port`` that ``server`` was started with (from its configuration)."""
    config = Path(server.log_path).with_name("magna.conf").read_text()
    section = config.split("[metrics]", 1)[1]
    return section.split("port = ", 1)[1].split("\n", 1)[0]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
