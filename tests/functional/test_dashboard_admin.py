"""Quotas and administration in the dashboard, in a real browser against a real server.

As the local administrator (noauth): quotas are created, changed and deleted from the page and
the API holds what the page said; the administration page lists the conductor the API reports
and every host requirement ``magna status`` checks. As a Keystone member: both pages show the
API's policy message, and nothing about the host.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from magna.hostcheck import requirements
from tests.keystone_server import KeystoneServer
from tests.support.browser import TIMEOUT_MS, screenshot
from tests.support.dashboard_api import api, keystone_magna, log_in
from tests.support.server import RunningServer, magna_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # A heartbeat a second: the conductors' rows change while a test looks at them.
    extra: dict[str, dict[str, object]] = {"conductor": {"heartbeat_interval": 1.0}}
    with magna_server(str(tmp_path_factory.mktemp("dash-admin")), extra=extra) as running:
        yield running



def stored_limits(server: RunningServer) -> dict[str, int]:
    with api(server) as client:
        listed = client.get("/v1/quotas", params={"all_tenants": "True"})
    assert listed.status_code == 200, listed.text
    return {q["project_id"]: q["hard_limit"] for q in listed.json()["quotas"]}


def new_quota(tab: Page, label: str) -> Locator:
    return tab.locator("#quota-form").get_by_label(label)


def test_quotas_are_created_changed_and_deleted(server: RunningServer, tab: Page) -> None:
    tab.goto(server.url + "/dashboard/quotas")
    expect(tab.get_by_role("heading", name="Quotas", exact=True)).to_be_visible()
    new_quota(tab, "Project ID").fill("project-a")
    new_quota(tab, "Hard limit").fill("3")
    tab.get_by_role("button", name="Create quota").click()
    expect(tab.get_by_label("Hard limit of project-a")).to_have_value("3")
    assert stored_limits(server)["project-a"] == 3
    screenshot(tab, "quotas")

    tab.get_by_label("Hard limit of project-a").fill("5")
    tab.get_by_role("button", name="Save the limit of project-a").click()
    expect(tab.get_by_label("Hard limit of project-a")).to_have_value("5")
    assert stored_limits(server)["project-a"] == 5

    tab.once("dialog", lambda dialog: dialog.accept())
    tab.get_by_role("button", name="Delete the quota of project-a").click()
    expect(tab.locator("#quotas tr[data-project=project-a]")).to_have_count(0)
    assert "project-a" not in stored_limits(server)


def test_a_refused_quota_shows_the_api_message_beside_the_limit(
        server: RunningServer, tab: Page) -> None:
    tab.goto(server.url + "/dashboard/quotas")
    new_quota(tab, "Project ID").fill("project-b")
    new_quota(tab, "Hard limit").fill("-1")
    tab.get_by_role("button", name="Create quota").click()
    expect(tab.locator(".field-error[data-field=hard_limit]")).to_contain_text(
        "Invalid input for field/attribute hard_limit")
    expect(new_quota(tab, "Project ID")).to_have_value("project-b")
    assert "project-b" not in stored_limits(server)


def test_a_second_quota_for_a_project_is_refused_above_the_form(
        server: RunningServer, tab: Page) -> None:
    with api(server) as client:
        made = client.post("/v1/quotas", json={"project_id": "project-c", "hard_limit": 2})
        assert made.status_code == 201, made.text
        again = client.post("/v1/quotas", json={"project_id": "project-c", "hard_limit": 7})
    tab.goto(server.url + "/dashboard/quotas")
    new_quota(tab, "Project ID").fill("project-c")
    new_quota(tab, "Hard limit").fill("7")
    tab.get_by_role("button", name="Create quota").click()
    message = again.json()["errors"][0]["detail"]
    expect(tab.get_by_role("alert").filter(has_text=message)).to_have_count(1)
    assert stored_limits(server)["project-c"] == 2


def test_the_admin_page_lists_the_conductor_and_the_host_requirements(
        server: RunningServer, tab: Page) -> None:
    with api(server) as client:
        conductors = client.get("/v1/mservices").json()["mservices"]
    assert conductors
    tab.goto(server.url + "/dashboard/admin")
    for conductor in conductors:
        row = tab.locator(f"#conductors tr[data-host='{conductor['host']}']")
        expect(row).to_contain_text(conductor["binary"])
        expect(row).to_contain_text(conductor["state"])
    for requirement in requirements.check():
        row = tab.locator(f"#host-requirements tr[data-requirement='{requirement.name}']")
        expect(row).to_contain_text("met" if requirement.met else "missing")
    screenshot(tab, "admin")


def test_the_conductors_rows_refresh_without_a_reload(server: RunningServer,
                                                       tab: Page) -> None:
    loads: list[str] = []
    tab.on("load", lambda page: loads.append(page.url))
    tab.goto(server.url + "/dashboard/admin")
    reports = tab.locator("#conductor-rows tr").first.get_by_role("cell").nth(5)
    first = reports.inner_text()
    expect(reports).not_to_have_text(first, timeout=TIMEOUT_MS)
    assert int(reports.inner_text()) > int(first)
    assert len(loads) == 1


@pytest.fixture(scope="module")
def keystone_server(keystone: KeystoneServer,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with keystone_magna(keystone, str(tmp_path_factory.mktemp("dash-admin-ks"))) as running:
        yield running


@pytest.mark.keystone
def test_a_member_gets_the_policy_message_on_quotas_and_admin(
        keystone: KeystoneServer, keystone_server: RunningServer, tab: Page) -> None:
    member = keystone.make_user(keystone.make_project("dash-adm"), "member")
    with api(keystone_server, member.token()) as client:
        quotas = client.get("/v1/quotas", params={"all_tenants": "True"})
        services = client.get("/v1/mservices")
    assert quotas.status_code == services.status_code == 403
    log_in(tab, keystone_server, member, "/dashboard/quotas")
    expect(tab.locator("#page-error")).to_have_text(quotas.json()["errors"][0]["detail"])
    tab.goto(keystone_server.url + "/dashboard/admin")
    expect(tab.locator("#page-error")).to_have_text(services.json()["errors"][0]["detail"])
    expect(tab.locator("#host-requirements")).to_have_count(0)


@pytest.mark.keystone
def test_a_keystone_administrator_sees_the_conductors_and_the_host(
        keystone: KeystoneServer, keystone_server: RunningServer, tab: Page) -> None:
    admin = keystone.make_user(keystone.make_project("dash-adm"), "admin")
    log_in(tab, keystone_server, admin, "/dashboard/admin")
    expect(tab.locator("#conductor-rows tr[data-host]")).not_to_have_count(0)
    expect(tab.locator("#host-requirements tr[data-requirement]")).to_have_count(
        len(requirements.check()))
