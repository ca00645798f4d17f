"""Cluster templates in the dashboard, in a real browser against a real server (local drivers).

Everything asserted is what the user sees on the page, and what the API holds afterwards.
One test builds a real cluster (a template in use cannot be deleted); it is marked docker.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.keystone_server import KeystoneServer
from tests.support.browser import screenshot
from tests.support.dashboard_api import api, keystone_magna, log_in
from tests.support.server import RunningServer, magna_server

SWARM = {"coe": "swarm-mode", "image_id": "debian-12-docker", "external_network_id": "public"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with magna_server(str(tmp_path_factory.mktemp("dash-templates"))) as running:
        yield running



def make_template(server: RunningServer, token: str | None = None, **fields: Any
                  ) -> dict[str, Any]:
    with api(server, token) as client:
        made = client.post("/v1/clustertemplates", json={**SWARM, **fields})
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def template_names(server: RunningServer) -> list[str]:
    with api(server) as client:
        listed = client.get("/v1/clustertemplates").json()["clustertemplates"]
    return [t["name"] for t in listed]


@pytest.fixture
def keypair(server: RunningServer, tmp_path: Path) -> Iterator[str]:
    key = tmp_path / "dash-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with api(server) as client:
        made = client.post("/v1/keypairs", json={"name": "dash-key",
                                                  "public_key": Path(f"{key}.pub").read_text()})
        assert made.status_code == 201, made.text
        yield "dash-key"
        client.delete("/v1/keypairs/dash-key")


def field(tab: Page, label: str) -> Locator:
    """The form field whose label starts with ``label`` (its help text follows it)."""
    return tab.get_by_label(re.compile(r"^\s*" + re.escape(label)))


def fill(tab: Page, texts: dict[str, str], choices: dict[str, str],
         flags: dict[str, bool]) -> None:
    for label, value in texts.items():
        field(tab, label).fill(value)
    for label, value in choices.items():
        field(tab, label).select_option(value)
    for label, checked in flags.items():
        field(tab, label).set_checked(checked)


def test_a_template_with_every_kind_of_field_is_created_as_given(
        server: RunningServer, tab: Page, keypair: str) -> None:
    tab.goto(server.url + "/dashboard/templates")
    tab.get_by_role("link", name="Create template").click()
    expect(tab.get_by_role("heading", name="Create cluster template")).to_be_visible()
    fill(tab, texts={
        "Name": "dash-full", "Tags": "web,blue", "Docker volume size (GiB)": "1",
        "Docker storage driver": "vfs", "External network": "public",
        "Network driver": "docker", "DNS nameservers": "8.8.8.8,1.1.1.1",
        "API server port": "2375", "HTTP proxy": "http://10.9.9.9:3128",
        "HTTPS proxy": "http://10.9.9.9:3129", "No proxy": "localhost,10.0.0.0/8",
        "Insecure registry": "10.9.9.9:5000", "Labels": "swarm_strategy=binpack\nteam=blue",
    }, choices={
        "Container orchestration engine": "swarm-mode", "Image": "debian-12-docker",
        "Server type": "vm", "Worker flavor": "m1.small", "Control-plane flavor": "m1.medium",
        "Keypair": keypair,
    }, flags={
        "Load balancer in front of the control plane": True,
        "Floating IPs (node addresses reachable from the host)": True,
        "Registry in the cluster": True, "TLS disabled": True,
        "Public (every project sees it)": True, "Hidden (left out of lists)": False,
    })
    tab.get_by_role("heading", name="Create cluster template").scroll_into_view_if_needed()
    screenshot(tab, "template-form")
    tab.get_by_role("button", name="Create template").click()
    expect(tab.get_by_role("heading", name="Cluster template dash-full")).to_be_visible()
    uuid = tab.locator("#prop-uuid").inner_text()
    with api(server) as client:
        stored = client.get(f"/v1/clustertemplates/{uuid}").json()
    assert {k: stored[k] for k in EXPECTED} == EXPECTED
    make_template(server, name="dash-plain")
    tab.goto(server.url + "/dashboard/templates")
    expect(tab.locator("#templates tr[data-name=dash-full]")).to_contain_text("swarm-mode")
    tab.get_by_label("Filter by Public").fill("yes")
    expect(tab.locator("#template-rows tr[data-name=dash-plain]")).to_have_count(0)
    expect(tab.locator("#template-rows tr[data-name=dash-full]")).to_be_visible()
    tab.get_by_label("Filter by Public").fill("")
    expect(tab.locator("#template-rows tr[data-name=dash-plain]")).to_be_visible()
    screenshot(tab, "templates")


EXPECTED = {
    "name": "dash-full", "coe": "swarm-mode", "image_id": "debian-12-docker",
    "server_type": "vm", "tags": "web,blue", "flavor_id": "m1.small",
    "master_flavor_id": "m1.medium", "keypair_id": "dash-key", "docker_volume_size": 1,
    "docker_storage_driver": "vfs", "volume_driver": None, "external_network_id": "public",
    "fixed_network": None, "fixed_subnet": None, "network_driver": "docker",
    "dns_nameserver": "8.8.8.8,1.1.1.1", "apiserver_port": 2375, "master_lb_enabled": True,
    "floating_ip_enabled": True, "http_proxy": "http://10.9.9.9:3128",
    "https_proxy": "http://10.9.9.9:3129", "no_proxy": "localhost,10.0.0.0/8",
    "registry_enabled": True, "insecure_registry": "10.9.9.9:5000", "tls_disabled": True,
    "public": True, "hidden": False, "labels": {"swarm_strategy": "binpack", "team": "blue"},
}


def test_a_refused_setting_is_shown_beside_its_field_and_nothing_is_created(
        server: RunningServer, tab: Page) -> None:
    tab.goto(server.url + "/dashboard/templates/new")
    fill(tab, texts={"Name": "dash-cinder", "Volume driver": "cinder"}, choices={},
         flags={})
    tab.get_by_role("button", name="Create template").click()
    expect(tab.locator(".field-error[data-field=volume_driver]")).to_contain_text(
        "Volume driver type cinder is not supported")
    expect(field(tab, "Name")).to_have_value("dash-cinder")
    # A label the driver refuses: beside the labels.
    fill(tab, texts={"Volume driver": "", "Labels": "swarm_strategy=bogus"}, choices={},
         flags={})
    tab.get_by_role("button", name="Create template").click()
    expect(tab.locator(".field-error[data-field=labels]")).to_contain_text(
        "Label swarm_strategy=bogus is not accepted")
    assert "dash-cinder" not in template_names(server)


def test_an_update_changes_the_name_and_labels_only(server: RunningServer, tab: Page) -> None:
    made = make_template(server, name="dash-old", labels={"team": "red"}, tags="kept")
    tab.goto(server.url + f"/dashboard/templates/{made['uuid']}")
    tab.get_by_role("link", name="Edit").click()
    expect(field(tab, "Labels")).to_have_value("team=red")
    fill(tab, texts={"Name": "dash-new", "Labels": "team=green\nswarm_strategy=spread"},
         choices={}, flags={})
    tab.get_by_role("button", name="Save changes").click()
    expect(tab.get_by_role("heading", name="Cluster template dash-new")).to_be_visible()
    expect(tab.locator("#prop-labels")).to_contain_text("team=green")
    with api(server) as client:
        stored = client.get(f"/v1/clustertemplates/{made['uuid']}").json()
    assert stored["name"] == "dash-new"
    assert stored["labels"] == {"team": "green", "swarm_strategy": "spread"}
    unchanged = {k: v for k, v in made.items() if k not in ("name", "labels", "updated_at")}
    assert {k: stored[k] for k in unchanged} == unchanged


def test_a_refused_update_shows_the_message_and_changes_nothing(
        server: RunningServer, tab: Page) -> None:
    made = make_template(server, name="dash-port")
    tab.goto(server.url + f"/dashboard/templates/{made['uuid']}/edit")
    fill(tab, texts={"API server port": "6443", "Name": "dash-port-2"}, choices={}, flags={})
    tab.get_by_role("button", name="Save changes").click()
    expect(tab.locator(".field-error[data-field=apiserver_port]")).to_contain_text(
        "its clusters serve their API on port 2375")
    with api(server) as client:
        assert client.get(f"/v1/clustertemplates/{made['uuid']}").json()["name"] == "dash-port"


def test_many_templates_are_deleted_at_once(server: RunningServer, tab: Page) -> None:
    first = make_template(server, name="dash-del-1")
    second = make_template(server, name="dash-del-2")
    tab.goto(server.url + "/dashboard/templates")
    tab.get_by_label("Select dash-del-1").check()
    tab.get_by_label("Select dash-del-2").check()
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.get_by_role("button", name="Delete selected").click()
    expect(tab.locator("#templates tr[data-name=dash-del-1]")).to_have_count(0)
    expect(tab.locator("#templates tr[data-name=dash-del-2]")).to_have_count(0)
    with api(server) as client:
        for made in (first, second):
            assert client.get(f"/v1/clustertemplates/{made['uuid']}").status_code == 404


def test_the_create_cluster_link_carries_the_template(server: RunningServer,
                                                      tab: Page) -> None:
    made = make_template(server, name="dash-link")
    target = f"/dashboard/clusters/new?template={made['uuid']}"
    tab.goto(server.url + f"/dashboard/templates/{made['uuid']}")
    expect(tab.get_by_role("link", name="Create cluster from this template")).to_have_attribute(
        "href", target)
    tab.goto(server.url + "/dashboard/templates")
    tab.get_by_label("Filter by Name").fill("dash-link")
    expect(tab.locator("#template-rows tr")).to_have_count(1)
    expect(tab.get_by_role("link", name="Create cluster from dash-link")).to_have_attribute(
        "href", target)


def wait_gone(client: httpx.Client, path: str, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while client.get(path).status_code != 404:
        assert time.monotonic() < deadline, f"{path} still there after {deadline_s} s"
        time.sleep(0.5)


@pytest.mark.docker
def test_a_template_in_use_is_not_deleted_and_the_api_says_why(
        server: RunningServer, tab: Page) -> None:
    made = make_template(server, name="dash-used", master_flavor_id="m1.small",
                         flavor_id="m1.small")
    with api(server) as client:
        cluster = client.post("/v1/clusters", json={
            "name": "dash-used", "cluster_template_id": made["uuid"], "master_count": 1,
            "node_count": 1})
        assert cluster.status_code == 202, cluster.text
        path = f"/v1/clusters/{cluster.json()['uuid']}"
        try:
            tab.goto(server.url + f"/dashboard/templates/{made['uuid']}")
            expect(tab.locator("#template-clusters")).to_contain_text("dash-used")
            tab.once("dialog", lambda dialog: dialog.accept())
            tab.get_by_role("button", name="Delete").click()
            expect(tab.locator("#page-error")).to_contain_text(
                f"Not deleted: {made['uuid']}: ClusterTemplate {made['uuid']} is "
                "referenced by one or multiple clusters")
            assert client.get(f"/v1/clustertemplates/{made['uuid']}").status_code == 200
        finally:
            client.delete(path)
            wait_gone(client, path)


@pytest.fixture(scope="module")
def keystone_server(keystone: KeystoneServer,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with keystone_magna(keystone, str(tmp_path_factory.mktemp("dash-tpl-ks"))) as running:
        yield running


@pytest.mark.keystone
def test_a_reader_sees_templates_and_is_refused_create_and_delete(
        keystone: KeystoneServer, keystone_server: RunningServer, tab: Page) -> None:
    project = keystone.make_project("dash-tpl")
    member, reader = keystone.make_user(project, "member"), keystone.make_user(project, "reader")
    made = make_template(keystone_server, member.token(), name="dash-shared")
    with api(keystone_server, reader.token()) as client:
        refused_create = client.post("/v1/clustertemplates", json={**SWARM, "name": "x"})
        refused_delete = client.delete(f"/v1/clustertemplates/{made['uuid']}")
    assert refused_create.status_code == refused_delete.status_code == 403
    log_in(tab, keystone_server, reader, "/dashboard/templates")
    expect(tab.locator("#templates tr[data-name=dash-shared]")).to_be_visible()
    tab.get_by_role("link", name="Create template").click()
    field(tab, "Name").fill("dash-reader")
    tab.get_by_role("button", name="Create template").click()
    expect(tab.locator("#form-error")).to_have_text(
        refused_create.json()["errors"][0]["detail"])
    tab.goto(keystone_server.url + f"/dashboard/templates/{made['uuid']}")
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.get_by_role("button", name="Delete").click()
    expect(tab.locator("#page-error")).to_contain_text(
        refused_delete.json()["errors"][0]["detail"])
    with api(keystone_server, member.token()) as client:
        assert client.get(f"/v1/clustertemplates/{made['uuid']}").status_code == 200
