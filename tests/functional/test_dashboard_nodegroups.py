"""A cluster's node groups in a real browser: create (labels, node labels, taints), watch the
status change live, resize, delete; a bad taint gets the API's message beside the taints.

One ``magna serve`` with the default local swarm driver and one real cluster (master 1 + worker
1, made through the API: the wizard has its own module); the server's teardown deletes it and
waits until it is gone.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import screenshot
from tests.support.dashboard_clusters import (
    SETTLE_MS,
    module_fixtures,
    poll,
    settled,
    template_body,
)
from tests.support.server import RunningServer

pytestmark = pytest.mark.docker


server, api = module_fixtures("dash-ng")


@pytest.fixture(scope="module")
def cluster(api: httpx.Client) -> str:
    template = api.post("/v1/clustertemplates", json=template_body("ng-t"))
    assert template.status_code == 201, template.text
    created = api.post("/v1/clusters", json={
        "name": "ng-cluster", "cluster_template_id": template.json()["uuid"],
        "master_count": 1, "node_count": 1})
    assert created.status_code == 202, created.text
    uuid: str = created.json()["uuid"]
    settled(api, uuid)
    return uuid


def nodegroup(api: httpx.Client, cluster: str, name: str) -> httpx.Response:
    return api.get(f"/v1/clusters/{cluster}/nodegroups/{name}")


def row(tab: Page, name: str) -> Any:
    return tab.locator(f"#nodegroup-rows tr[data-name='{name}']")


def test_a_node_group_is_created_resized_and_deleted_from_its_page(
        server: RunningServer, api: httpx.Client, cluster: str, tab: Page) -> None:
    tab.goto(f"{server.url}/dashboard/clusters/{cluster}/nodegroups")
    expect(row(tab, "default-worker").locator("td.status")).to_have_text("CREATE_COMPLETE")
    form = tab.locator("#create-nodegroup-form")
    form.get_by_label(re.compile(r"^\s*Name")).fill("db")
    form.get_by_label(re.compile(r"^\s*Node count")).fill("1")
    form.get_by_label("Maximum node count").fill("3")
    form.get_by_label(re.compile(r"^\s*Labels")).fill("purpose=db")
    form.get_by_label(re.compile(r"^\s*Node labels")).fill("tier=db")
    form.get_by_label(re.compile(r"^\s*Taints")).fill("dedicated=db:NoSchedule")
    form.get_by_role("button", name="Create node group").click()
    expect(tab).to_have_url(re.compile(rf"/dashboard/clusters/{cluster}/nodegroups$"))
    # No reload from here: the table refreshes itself.
    expect(row(tab, "db").locator("td.status")).to_have_text("CREATE_COMPLETE",
                                                             timeout=SETTLE_MS)
    expect(row(tab, "db").locator("td.labels")).to_contain_text("taint: dedicated=db:NoSchedule")
    screenshot(tab, "nodegroups")
    made = nodegroup(api, cluster, "db").json()
    assert made["node_taints"] == [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    assert (made["node_labels"], made["labels"]["purpose"]) == ({"tier": "db"}, "db")

    settled(api, cluster)
    change = tab.locator("#change-nodegroup-form")
    change.get_by_label("Node group").select_option("db")
    change.get_by_label("New node count").fill("2")
    change.get_by_role("button", name="Resize").click()
    expect(row(tab, "db").locator("td.count")).to_have_text("2")
    expect(row(tab, "db").locator("td.status")).to_have_text("UPDATE_COMPLETE",
                                                             timeout=SETTLE_MS)
    expect(tab.locator("#cluster-status")).to_contain_text("UPDATE_COMPLETE",
                                                           timeout=SETTLE_MS)
    assert nodegroup(api, cluster, "db").json()["node_count"] == 2

    remove_through_the_resize_page(server, api, cluster, tab)
    tab.goto(f"{server.url}/dashboard/clusters/{cluster}/nodegroups")
    settled(api, cluster)
    change.get_by_label("Node group").select_option("db")
    tab.once("dialog", lambda dialog: dialog.accept())
    change.get_by_role("button", name="Delete").click()
    expect(row(tab, "db")).to_have_count(0, timeout=SETTLE_MS)
    poll("the node group is gone", lambda: nodegroup(api, cluster, "db").status_code == 404)


def remove_through_the_resize_page(server: RunningServer, api: httpx.Client, cluster: str,
                                   tab: Page) -> None:
    """The cluster's resize page, switched to the "db" group, removes the chosen db-0."""
    def reported() -> bool:
        reasons = api.get(f"/v1/clusters/{cluster}").json()["health_status_reason"] or {}
        return {"db-0.Ready", "db-1.Ready"} <= set(reasons)
    poll("both db nodes in the health report", reported)
    tab.goto(f"{server.url}/dashboard/clusters/{cluster}/resize")
    tab.get_by_label("Node group").select_option("db")
    expect(tab.get_by_label("Node count")).to_have_value("2")
    expect(tab.get_by_label("db-1", exact=True)).to_be_visible()
    tab.get_by_label("Node count").fill("1")
    tab.get_by_label("db-0", exact=True).check()
    tab.get_by_role("button", name="Resize").click()
    expect(tab).to_have_url(re.compile(rf"/dashboard/clusters/{cluster}$"))
    assert settled(api, cluster)["status"] == "UPDATE_COMPLETE"
    poll("db-0 left, db-1 stayed", lambda: {
        key for key in api.get(f"/v1/clusters/{cluster}").json()["health_status_reason"]
        if key.startswith("db-")} == {"db-1.Ready"})


def test_a_taint_without_an_effect_gets_the_api_message_beside_the_taints(
        server: RunningServer, api: httpx.Client, cluster: str, tab: Page) -> None:
    tab.goto(f"{server.url}/dashboard/clusters/{cluster}/nodegroups")
    form = tab.locator("#create-nodegroup-form")
    form.get_by_label(re.compile(r"^\s*Name")).fill("tainted")
    form.get_by_label(re.compile(r"^\s*Taints")).fill("dedicated=db")
    form.get_by_role("button", name="Create node group").click()
    expect(tab.locator(".field-error[data-field=node_taints]")).to_contain_text(
        "node_taints for tainted is invalid")
    expect(form.get_by_label(re.compile(r"^\s*Taints"))).to_have_value("dedicated=db")
    assert nodegroup(api, cluster, "tainted").status_code == 404


def test_resizing_beyond_the_maximum_is_said_beside_the_new_count(
        server: RunningServer, api: httpx.Client, cluster: str, tab: Page) -> None:
    settled(api, cluster)
    patched = api.patch(f"/v1/clusters/{cluster}/nodegroups/default-worker",
                        json=[{"op": "replace", "path": "/max_node_count", "value": 1}])
    assert patched.status_code == 202, patched.text
    settled(api, cluster)
    tab.goto(f"{server.url}/dashboard/clusters/{cluster}/nodegroups")
    change = tab.locator("#change-nodegroup-form")
    change.get_by_label("New node count").fill("4")
    change.get_by_role("button", name="Resize").click()
    expect(change.locator(".field-error[data-field=node_count]")).to_contain_text(
        "Resizing default-worker outside the allowed range")
    expect(change.get_by_label("New node count")).to_have_value("4")
    assert nodegroup(api, cluster, "default-worker").json()["node_count"] == 1
