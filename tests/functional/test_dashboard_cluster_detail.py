"""A cluster's page in a real browser, against a real swarm-mode cluster of the local driver.

One ``magna serve`` and one swarm 1+1 cluster for the module (created through the API, deleted
through the API at the end whatever happened; the last test deletes it from the page). The
tests run in file order: the CA rotation and the delete come last.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from playwright.sync_api import Page, expect

from tests.support.browser import screenshot
from tests.support.dashboard_cluster_detail import (
    HEADERS,
    TEMPLATE,
    make_cluster,
    new_csr,
    wait_for,
    wait_gone,
)
from tests.support.server import RunningServer, magna_server

pytestmark = pytest.mark.docker

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with magna_server(str(tmp_path_factory.mktemp("dash-detail"))) as running:
        yield running


@pytest.fixture(scope="module")
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.endpoint, headers=HEADERS, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def cluster(api: httpx.Client) -> Iterator[dict[str, Any]]:
    template = api.post("/clustertemplates", json=TEMPLATE)
    assert template.status_code == 201, template.text
    made = None
    try:
        made = make_cluster(api, TEMPLATE["name"], "detail")
        yield made
    finally:
        if made is not None and api.get(f"/clusters/{made['uuid']}").status_code != 404:
            api.delete(f"/clusters/{made['uuid']}")
            wait_gone(api, f"/clusters/{made['uuid']}")
        api.delete(f"/clustertemplates/{TEMPLATE['name']}")


def open_detail(tab: Page, server: RunningServer, cluster: dict[str, Any]) -> None:
    tab.goto(f"{server.url}/dashboard/clusters/{cluster['uuid']}")
    expect(tab.locator("#cluster-name")).to_have_text(cluster["name"])


def test_the_page_shows_the_cluster_and_each_nodes_health(
        server: RunningServer, tab: Page, cluster: dict[str, Any]) -> None:
    open_detail(tab, server, cluster)
    expect(tab.locator("#cluster-uuid")).to_have_text(cluster["uuid"])
    expect(tab.locator("#cluster-status")).to_have_text("CREATE_COMPLETE")
    expect(tab.locator("#cluster-health")).to_have_text("HEALTHY")
    expect(tab.locator("#cluster-api-address")).to_have_text(cluster["api_address"])
    expect(tab.locator("#cluster-template")).to_contain_text(TEMPLATE["name"])
    expect(tab.locator("#cluster-template a")).to_have_attribute(
        "href", f"/dashboard/templates/{cluster['cluster_template_id']}")
    for node in ("default-master-0", "default-worker-0"):
        row = tab.locator(f'#node-health tr[data-node="{node}"]')
        expect(row).to_contain_text("Ready")
        expect(row).to_contain_text("HEALTHY")
    expect(tab.locator('#cluster-labels')).to_contain_text("purpose")
    expect(tab.locator('#nodegroups tr[data-nodegroup="default-worker"]')).to_contain_text(
        "worker")
    expect(tab.locator("#cluster-project")).to_have_text(cluster["project_id"])
    for link, target in (("#resize", "resize"), ("#upgrade", "upgrade"),
                         ("#nodegroups-link", "nodegroups")):
        expect(tab.locator(link)).to_have_attribute(
            "href", f"/dashboard/clusters/{cluster['uuid']}/{target}")
    screenshot(tab, "cluster-detail")


def test_the_timeline_lists_the_creates_events(
        server: RunningServer, tab: Page, api: httpx.Client, cluster: dict[str, Any]) -> None:
    events = api.get(f"/clusters/{cluster['uuid']}/events").json()["events"]
    assert events, "the create recorded events"
    open_detail(tab, server, cluster)
    rows = tab.locator("#timeline tbody tr.event")
    expect(rows).to_have_count(len(events))
    expect(rows.last).to_contain_text(events[-1]["message"])
    # the first event of the create is timed from the create request
    expect(rows.first.locator(".took")).to_have_text(re.compile(r"^\d+(\.\d)? s$"))


def test_show_ca_is_the_apis_ca_and_downloads(
        server: RunningServer, tab: Page, api: httpx.Client, cluster: dict[str, Any]) -> None:
    pem = api.get(f"/certificates/{cluster['uuid']}").json()["pem"]
    open_detail(tab, server, cluster)
    tab.locator("#show-ca").click()
    expect(tab.locator("#ca-pem")).to_have_text(pem.strip())
    with tab.expect_download() as info:
        tab.locator("#download-ca").click()
    assert info.value.suggested_filename == "detail-ca.pem"
    assert Path(info.value.path()).read_text() == pem


def test_a_signed_csr_is_issued_by_the_clusters_ca(
        server: RunningServer, tab: Page, api: httpx.Client, cluster: dict[str, Any]) -> None:
    ca = x509.load_pem_x509_certificate(
        api.get(f"/certificates/{cluster['uuid']}").json()["pem"].encode())
    open_detail(tab, server, cluster)
    tab.locator("#sign-csr").click()
    tab.get_by_label("Certificate signing request (PEM)").fill(new_csr("someone"))
    tab.get_by_role("button", name="Sign", exact=True).click()
    shown = tab.locator("#signed-cert").inner_text()
    cert = x509.load_pem_x509_certificate(shown.encode())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string() == "CN=someone"


def test_a_bad_csr_gets_the_apis_message_beside_the_field(
        server: RunningServer, tab: Page, api: httpx.Client, cluster: dict[str, Any]) -> None:
    answer = api.post("/certificates", json={"cluster_uuid": cluster["uuid"],
                                             "csr": "not a CSR"})
    assert answer.status_code == 400
    tab.goto(f"{server.url}/dashboard/clusters/{cluster['uuid']}/sign")
    tab.get_by_label("Certificate signing request (PEM)").fill("not a CSR")
    tab.get_by_role("button", name="Sign", exact=True).click()
    expect(tab.locator('.field-error[data-field="csr"]')).to_have_text(
        answer.json()["errors"][0]["detail"])
    expect(tab.get_by_label("Certificate signing request (PEM)")).to_have_value("not a CSR")
    expect(tab.locator("#signed-cert")).to_have_count(0)


def test_the_downloaded_config_works_with_the_docker_client(
        server: RunningServer, tab: Page, cluster: dict[str, Any], tmp_path: Path) -> None:
    open_detail(tab, server, cluster)
    with tab.expect_download() as info:
        tab.locator("#download-config").click()
    assert info.value.suggested_filename == "detail-config.zip"
    with zipfile.ZipFile(info.value.path()) as archive:
        assert sorted(archive.namelist()) == ["ca.pem", "cert.pem", "env.sh", "key.pem"]
        archive.extractall(tmp_path / "unpacked")
        assert (archive.getinfo("key.pem").external_attr >> 16) & 0o777 == 0o600
    env = (tmp_path / "unpacked" / "env.sh").read_text()
    assert f"export DOCKER_HOST={cluster['api_address']}" in env
    assert "export DOCKER_TLS_VERIFY=1" in env
    # From another directory: env.sh finds its certificates beside itself.
    result = subprocess.run(
        ["bash", "-c", ". unpacked/env.sh && docker node ls --format '{{.Hostname}} "
         "{{.Status}}'"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" Ready") == 2, result.stdout


def test_the_containers_section_shows_a_container_made_through_the_api(
        server: RunningServer, tab: Page, api: httpx.Client, cluster: dict[str, Any]) -> None:
    made = api.post("/containers", json={"image": "magna/busybox:latest",
                                         "cluster": cluster["uuid"], "name": "box",
                                         "command": "sleep 3600"})
    assert made.status_code == 202, made.text
    try:
        open_detail(tab, server, cluster)
        row = tab.locator('#containers tr[data-name="box"]')
        expect(row).to_contain_text("magna/busybox:latest")
        # the section refreshes itself until the engine runs the container
        expect(row).to_contain_text("Running")
        host = api.get(f"/containers/{made.json()['uuid']}").json()["host"]
        expect(row).to_contain_text(host)
    finally:
        api.delete(f"/containers/{made.json()['uuid']}")
        wait_gone(api, f"/containers/{made.json()['uuid']}")


def test_status_and_timeline_follow_a_change_without_reloading(
        server: RunningServer, tab: Page, api: httpx.Client, cluster: dict[str, Any]) -> None:
    """A CA rotation made elsewhere (the API) shows up on the open page: the status becomes
    UPDATE_COMPLETE and the rotation's events join the timeline, in the same document."""
    open_detail(tab, server, cluster)
    before = tab.locator("#timeline tbody tr.event").count()
    tab.evaluate("window.notReloaded = true")
    generation = max(int(g) for g in tab.locator("#timeline tbody tr.event").evaluate_all(
        "rows => rows.map(r => r.dataset.generation)"))
    assert api.patch(f"/certificates/{cluster['uuid']}").status_code == 202
    wait_for(api, cluster["uuid"], ("UPDATE_COMPLETE",))
    expect(tab.locator("#cluster-status")).to_have_text("UPDATE_COMPLETE")
    later = tab.locator(f'#timeline tbody tr.event[data-generation="{generation + 1}"]')
    expect(later.first).to_be_visible()
    assert tab.locator("#timeline tbody tr.event").count() > before
    assert tab.evaluate("window.notReloaded") is True


def test_rotate_ca_from_the_page_changes_the_ca(
        server: RunningServer, tab: Page, api: httpx.Client, cluster: dict[str, Any]) -> None:
    old = api.get(f"/certificates/{cluster['uuid']}").json()["pem"]
    open_detail(tab, server, cluster)
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.locator("#rotate-ca").click()
    expect(tab.locator("#rotated")).to_be_visible()
    new = api.get(f"/certificates/{cluster['uuid']}").json()["pem"]
    assert new != old
    expect(tab.locator("#ca-pem")).to_have_text(new.strip())
    wait_for(api, cluster["uuid"], ("UPDATE_COMPLETE",))


def test_delete_from_the_page_then_the_row_goes(
        server: RunningServer, tab: Page, api: httpx.Client, cluster: dict[str, Any]) -> None:
    watcher = tab.context.new_page()  # another tab left open on the cluster's page
    open_detail(watcher, server, cluster)
    open_detail(tab, server, cluster)
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.locator("#delete-cluster").click()
    expect(tab).to_have_url(re.compile(r"/dashboard/clusters$"))
    row = tab.locator(f'#cluster-rows tr[data-uuid="{cluster["uuid"]}"]')
    expect(row.locator(".status")).to_have_text("DELETE_IN_PROGRESS")
    expect(row).to_have_count(0)
    assert api.get(f"/clusters/{cluster['uuid']}").status_code == 404
    expect(watcher.locator("#cluster-live-gone")).to_contain_text("could not be found")
    expect(watcher.locator("#cluster-workloads-gone")).to_be_visible()
