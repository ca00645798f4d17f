"""The cluster forms in a real browser: the create wizard, resize, remove a chosen node, upgrade.

One ``magna serve`` with the default local swarm driver and one real cluster (master 1 +
worker 1), created through the wizard by the module's ``cluster`` fixture; every other cluster
test acts on it. The server's teardown deletes every cluster the module made, and waits until
each is gone, whatever the tests did. The Keystone reader checks run on a second server with
the fake driver (a member's cluster there is only a record): the reader is refused by the
policy before any driver is involved.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.keystone_server import KeystoneServer
from tests.support import dashboard_api
from tests.support.browser import new_tab, screenshot
from tests.support.dashboard_api import log_in
from tests.support.dashboard_clusters import (
    SETTLE_MS,
    api_client,
    delete_every_cluster,
    module_fixtures,
    poll,
    settled,
    template_body,
)
from tests.support.server import RunningServer

pytestmark = pytest.mark.docker


server, api = module_fixtures("dash-forms")


@pytest.fixture(scope="module")
def templates(api: httpx.Client) -> dict[str, dict[str, Any]]:
    made = {}
    for name, extra in (("forms-t1", {}), ("forms-t2", {"dns_nameserver": "10.0.0.53"})):
        response = api.post("/v1/clustertemplates", json=template_body(name, **extra))
        assert response.status_code == 201, response.text
        made[name] = response.json()
    return made


def open_wizard(tab: Page, server: RunningServer, template: str, name: str,
                **fields: str) -> None:
    """The wizard with ``template`` preselected (as the templates page links to it), filled."""
    tab.goto(f"{server.url}/dashboard/clusters/new?template={template}")
    expect(tab.get_by_role("heading", name="Create cluster")).to_be_visible()
    expect(tab.get_by_label("Cluster template")).to_have_value(template)
    tab.get_by_label("Cluster name").fill(name)
    for label, value in fields.items():
        tab.get_by_label(label.replace("_", " ").capitalize()).fill(value)


def created_names(api: httpx.Client) -> list[str]:
    return [c["name"] for c in api.get("/v1/clusters").json()["clusters"]]


@pytest.fixture(scope="module")
def cluster(server: RunningServer, api: httpx.Client, templates: dict[str, dict[str, Any]],
            chromium: Browser) -> str:
    """The module's cluster, made through the wizard: labels, an odd master count, flavors."""
    ctx, tab = new_tab(chromium)
    try:
        open_wizard(tab, server, templates["forms-t1"]["uuid"], "wizard-made", master_count="1",
                    node_count="1", labels="team=blue\nstage = test\n")
        tab.get_by_label("Node flavor").select_option("m1.small")
        tab.get_by_label("Auto-healing").select_option("false")
        tab.get_by_role("heading", name="Create cluster").scroll_into_view_if_needed()
        screenshot(tab, "cluster-create")
        tab.get_by_role("button", name="Create cluster").click()
        # The detail page (another page of the dashboard) answers there.
        expect(tab).to_have_url(re.compile(r"/dashboard/clusters/[0-9a-f-]{36}$"))
        return tab.url.rsplit("/", 1)[1]
    finally:
        ctx.close()


def row_status(tab: Page, uuid: str) -> Any:
    return tab.locator(f"#cluster-rows tr[data-uuid='{uuid}'] td.status")


def test_the_wizard_creates_the_cluster_asked_for(
        server: RunningServer, api: httpx.Client, templates: dict[str, dict[str, Any]],
        cluster: str, tab: Page) -> None:
    tab.goto(f"{server.url}/dashboard/clusters")
    expect(row_status(tab, cluster)).to_have_text("CREATE_COMPLETE", timeout=SETTLE_MS)
    body = api.get(f"/v1/clusters/{cluster}").json()
    assert body["name"] == "wizard-made"
    assert body["cluster_template_id"] == templates["forms-t1"]["uuid"]
    assert (body["master_count"], body["node_count"], body["flavor_id"]) == (1, 1, "m1.small")
    assert body["labels"] == {"from_template": "yes", "team": "blue", "stage": "test",
                              "auto_healing_enabled": "false"}


def test_an_even_master_count_gets_the_api_message_beside_the_field_and_creates_nothing(
        server: RunningServer, api: httpx.Client, templates: dict[str, dict[str, Any]],
        tab: Page) -> None:
    open_wizard(tab, server, templates["forms-t1"]["uuid"], "even-masters", master_count="2",
                labels="keep=me")
    tab.get_by_role("button", name="Create cluster").click()
    expect(tab.locator(".field-error[data-field=master_count]")).to_contain_text(
        "size cannot be an even number")
    expect(tab.get_by_label("Cluster name")).to_have_value("even-masters")
    expect(tab.get_by_label("Labels")).to_have_value("keep=me")
    assert "even-masters" not in created_names(api)


def test_a_label_line_without_a_value_is_said_beside_the_labels(
        server: RunningServer, api: httpx.Client, templates: dict[str, dict[str, Any]],
        tab: Page) -> None:
    open_wizard(tab, server, templates["forms-t1"]["uuid"], "bad-labels", labels="just-a-word")
    tab.get_by_role("button", name="Create cluster").click()
    expect(tab.locator(".field-error[data-field=labels]")).to_have_text(
        "'just-a-word' is not a key=value line.")
    assert "bad-labels" not in created_names(api)


def resize_in_browser(tab: Page, server: RunningServer, uuid: str, count: int,
                      remove: tuple[str, ...] = ()) -> None:
    tab.goto(f"{server.url}/dashboard/clusters/{uuid}/resize")
    expect(tab.get_by_label("Node group")).to_have_value("default-worker")
    tab.get_by_label("Node count").fill(str(count))
    for node in remove:
        tab.get_by_label(node, exact=True).check()
    tab.get_by_role("button", name="Resize").click()
    expect(tab).to_have_url(re.compile(rf"/dashboard/clusters/{uuid}$"))


def worker_names(api: httpx.Client, uuid: str) -> set[str]:
    reasons = api.get(f"/v1/clusters/{uuid}").json()["health_status_reason"] or {}
    return {key.removesuffix(".Ready") for key in reasons
            if key.startswith("default-worker-") and key.endswith(".Ready")}


def test_resize_to_two_workers(server: RunningServer, api: httpx.Client, cluster: str,
                               tab: Page) -> None:
    settled(api, cluster)
    resize_in_browser(tab, server, cluster, 2)
    body = settled(api, cluster)
    assert (body["status"], body["node_count"]) == ("UPDATE_COMPLETE", 2)
    tab.goto(f"{server.url}/dashboard/clusters")
    expect(row_status(tab, cluster)).to_have_text("UPDATE_COMPLETE")


def test_removing_a_chosen_node(server: RunningServer, api: httpx.Client, cluster: str,
                                tab: Page) -> None:
    """The oldest worker is chosen, so the driver's own choice (the newest) would differ."""
    if settled(api, cluster)["node_count"] < 2:
        assert api.post(f"/v1/clusters/{cluster}/actions/resize",
                        json={"node_count": 2}).status_code == 202
        settled(api, cluster)
    def two_workers() -> set[str] | None:
        names = worker_names(api, cluster)
        return names if len(names) == 2 else None
    before: set[str] = poll("two workers in the health report", two_workers)
    oldest = min(before, key=lambda name: int(name.rsplit("-", 1)[1]))
    resize_in_browser(tab, server, cluster, 1, remove=(oldest,))
    assert settled(api, cluster)["node_count"] == 1
    poll(f"{oldest} left the health report",
         lambda: worker_names(api, cluster) == before - {oldest})


def test_upgrade_to_a_second_template(server: RunningServer, api: httpx.Client,
                                      templates: dict[str, dict[str, Any]], cluster: str,
                                      tab: Page) -> None:
    settled(api, cluster)
    target = templates["forms-t2"]["uuid"]
    tab.goto(f"{server.url}/dashboard/clusters/{cluster}/upgrade")
    tab.get_by_label("Cluster template").select_option(target)
    tab.get_by_label("Max batch size").fill("2")
    tab.get_by_role("button", name="Upgrade").click()
    expect(tab).to_have_url(re.compile(rf"/dashboard/clusters/{cluster}$"))
    body = settled(api, cluster)
    assert (body["status"], body["cluster_template_id"]) == ("UPDATE_COMPLETE", target)


# -- a Keystone reader --------------------------------------------------------------------------

# The same Keystone-backed server (fake driver) as the basics' module, one of its own here.
keystone_server = dashboard_api.keystone_server


@dataclass
class ReaderProject:
    """A project with a member's template and (fake-driver) cluster, seen by its reader."""
    member_api: httpx.Client
    template: str
    cluster: str
    tab: Page


def member_cluster(api: httpx.Client) -> tuple[str, str]:
    response = api.post("/v1/clustertemplates", json=template_body(
        "reader-t", image_id="fake-image"))
    assert response.status_code == 201, response.text
    template: str = response.json()["uuid"]
    response = api.post("/v1/clusters", json={"name": "members", "cluster_template_id": template,
                                              "master_count": 1, "node_count": 1})
    assert response.status_code == 202, response.text
    return template, response.json()["uuid"]


@pytest.fixture(scope="module")
def reader_project(keystone: KeystoneServer, keystone_server: RunningServer,
                   chromium: Browser) -> Iterator[ReaderProject]:
    project = keystone.make_project("forms")
    member = keystone.make_user(project, "member")
    reader = keystone.make_user(project, "reader")
    with api_client(keystone_server, member.token()) as api:
        template, uuid = member_cluster(api)
        ctx, tab = new_tab(chromium)
        try:
            log_in(tab, keystone_server, reader, "/dashboard/clusters")
            yield ReaderProject(api, template, uuid, tab)
        finally:
            ctx.close()
            delete_every_cluster(api)


@pytest.mark.keystone
def test_a_reader_sees_the_wizard_and_gets_the_policy_message_on_create(
        keystone_server: RunningServer, reader_project: ReaderProject) -> None:
    tab = reader_project.tab
    open_wizard(tab, keystone_server, reader_project.template, "by-a-reader")
    tab.get_by_role("button", name="Create cluster").click()
    expect(tab.locator("#form-error")).to_have_text(
        "Policy doesn't allow cluster:create to be performed.")
    assert created_names(reader_project.member_api) == ["members"]


@pytest.mark.keystone
@pytest.mark.parametrize(("page", "button"), [("resize", "Resize"), ("upgrade", "Upgrade")])
def test_a_reader_sees_resize_and_upgrade_and_gets_the_policy_message(
        keystone_server: RunningServer, reader_project: ReaderProject, page: str,
        button: str) -> None:
    tab = reader_project.tab
    tab.goto(f"{keystone_server.url}/dashboard/clusters/{reader_project.cluster}/{page}")
    expect(tab.get_by_role("heading", name=f"{button} members")).to_be_visible()
    tab.get_by_role("button", name=button).click()
    expect(tab.locator("#form-error")).to_contain_text("Policy doesn't allow cluster:")
    cluster = reader_project.member_api.get(f"/v1/clusters/{reader_project.cluster}").json()
    assert (cluster["node_count"], cluster["cluster_template_id"]) == (
        1, reader_project.template)


@pytest.mark.keystone
def test_a_reader_sees_the_node_groups_and_gets_the_policy_message_on_create(
        keystone_server: RunningServer, reader_project: ReaderProject) -> None:
    tab = reader_project.tab
    tab.goto(f"{keystone_server.url}/dashboard/clusters/{reader_project.cluster}/nodegroups")
    expect(tab.locator("#nodegroup-rows tr[data-name='default-worker']")).to_be_visible()
    form = tab.locator("#create-nodegroup-form")
    form.get_by_label(re.compile(r"^\s*Name")).fill("readers")
    form.get_by_role("button", name="Create node group").click()
    expect(form.locator("#form-error")).to_contain_text("Policy doesn't allow nodegroup:create")
    groups = reader_project.member_api.get(
        f"/v1/clusters/{reader_project.cluster}/nodegroups").json()["nodegroups"]
    assert "readers" not in [g["name"] for g in groups]
