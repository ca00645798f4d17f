"""The dashboard in a real browser: how a user gets in, and what protects the forms."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.keystone_server import KeystoneServer
from tests.support import dashboard_api
from tests.support.server import RunningServer, magna_server


@pytest.fixture(scope="module")
def noauth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    extra: dict[str, dict[str, object]] = {"drivers": {"enabled_drivers": "fake"}}
    with magna_server(str(tmp_path_factory.mktemp("dash")), extra=extra) as running:
        yield running


def test_a_browser_opening_the_root_lands_on_the_clusters_page(
        noauth_server: RunningServer, tab: Page) -> None:
    tab.goto(noauth_server.url + "/")
    expect(tab).to_have_url(re.compile(r"/dashboard/clusters$"))
    expect(tab.get_by_role("heading", name="Clusters")).to_be_visible()
    expect(tab.locator("#usage")).to_contain_text("Clusters: 0")
    expect(tab.get_by_text("local administrator (noauth)")).to_be_visible()


def test_a_form_from_another_site_is_refused(noauth_server: RunningServer) -> None:
    """No session cookie and no CSRF field (what a foreign page's form would send): 403."""
    response = httpx.post(noauth_server.url + "/dashboard/clusters/delete",
                          data={"uuid": "x"}, headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert "did not come from this dashboard" in response.text


def test_clients_of_the_api_still_get_json(noauth_server: RunningServer) -> None:
    response = httpx.get(noauth_server.url + "/")
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["versions"][0]["id"] == "v1"


keystone_server = dashboard_api.keystone_server  # the fixture: fake driver, behind Keystone


@pytest.mark.keystone
class TestKeystoneLogin:

    def test_login_acts_as_the_user_and_logout_ends_it(
            self, keystone: KeystoneServer, keystone_server: RunningServer, tab: Page) -> None:
        user = keystone.make_user(keystone.make_project("dash"), "member")
        tab.goto(keystone_server.url + "/dashboard/clusters")
        expect(tab).to_have_url(re.compile(r"/dashboard/login\?next="))
        tab.get_by_label("User name").fill(user.name)
        tab.get_by_label("Password").fill(user.password)
        tab.get_by_label("Project").fill(user.project.name)
        tab.get_by_role("button", name="Log in").click()
        expect(tab).to_have_url(re.compile(r"/dashboard/clusters$"))
        expect(tab.locator("header .who")).to_contain_text(
            f"{user.name} · {user.project.name}")
        tab.get_by_role("button", name="Log out").click()
        expect(tab).to_have_url(re.compile(r"/dashboard/login$"))
        tab.goto(keystone_server.url + "/dashboard/clusters")
        expect(tab).to_have_url(re.compile(r"/dashboard/login"))

    def test_a_wrong_password_is_said_plainly(
            self, keystone: KeystoneServer, keystone_server: RunningServer, tab: Page) -> None:
        user = keystone.make_user(keystone.make_project("dash"), "member")
        tab.goto(keystone_server.url + "/dashboard/login")
        tab.get_by_label("User name").fill(user.name)
        tab.get_by_label("Password").fill("not-the-password")
        tab.get_by_label("Project").fill(user.project.name)
        tab.get_by_role("button", name="Log in").click()
        expect(tab.locator("#login-error")).to_have_text(
            "The user name, password, project or domain is wrong.")
        expect(tab.get_by_label("User name")).to_have_value(user.name)
