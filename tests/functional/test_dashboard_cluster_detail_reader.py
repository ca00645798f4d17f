"""A Keystone ``reader`` on a cluster's page: sees everything, changes nothing.

One ``magna serve`` with Keystone authentication and one swarm 1+1 cluster made through the API
by a ``member`` of the project; the reader of the same project logs in through the dashboard's
form. Each refused action shows the message the API's policy gives the reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.keystone_server import KeystoneServer, Project, User
from tests.support.dashboard_api import keystone_magna, log_in
from tests.support.dashboard_cluster_detail import (
    HEADERS,
    TEMPLATE,
    make_cluster,
    new_csr,
    wait_gone,
)
from tests.support.server import RunningServer

pytestmark = [pytest.mark.docker, pytest.mark.keystone]


@pytest.fixture(scope="module")
def project(keystone: KeystoneServer) -> Project:
    return keystone.make_project("detail")


@pytest.fixture(scope="module")
def server(keystone: KeystoneServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with keystone_magna(keystone, str(tmp_path_factory.mktemp("dash-detail-ks"))) as running:
        yield running


@pytest.fixture(scope="module")
def reader(keystone: KeystoneServer, project: Project) -> User:
    return keystone.make_user(project, "reader")


def client(server: RunningServer, user: User) -> httpx.Client:
    return httpx.Client(base_url=server.endpoint, timeout=60,
                        headers={**HEADERS, "X-Auth-Token": user.token()})


@pytest.fixture(scope="module")
def cluster(keystone: KeystoneServer, project: Project,
            server: RunningServer) -> Iterator[dict[str, Any]]:
    member = keystone.make_user(project, "member")
    with client(server, member) as api:
        assert api.post("/clustertemplates", json=TEMPLATE).status_code == 201
        made = None
        try:
            made = make_cluster(api, TEMPLATE["name"], "shared")
            yield made
        finally:
            if made is not None:
                api.delete(f"/clusters/{made['uuid']}")
                wait_gone(api, f"/clusters/{made['uuid']}")
            api.delete(f"/clustertemplates/{TEMPLATE['name']}")


def policy_message(server: RunningServer, user: User, method: str, path: str,
                   body: Any = None) -> str:
    with client(server, user) as api:
        answer = api.request(method, path, json=body)
    assert answer.status_code == 403, answer.text
    return str(answer.json()["errors"][0]["detail"])


def test_a_reader_sees_the_page_and_is_refused_each_change(
        server: RunningServer, tab: Page, reader: User, cluster: dict[str, Any]) -> None:
    detail = f"/dashboard/clusters/{cluster['uuid']}"
    log_in(tab, server, reader, detail)
    expect(tab.locator("#cluster-name")).to_have_text("shared")
    expect(tab.locator("#cluster-status")).to_have_text("CREATE_COMPLETE")
    expect(tab.locator('#node-health tr[data-node="default-worker-0"]')).to_contain_text(
        "HEALTHY")
    expect(tab.locator("#timeline tbody tr.event").first).to_be_visible()
    expect(tab.locator("#containers")).to_be_visible()
    expect(tab.locator("#cluster-project")).to_have_count(0)  # not an administrator

    refusals = {
        "#rotate-ca": policy_message(server, reader, "PATCH",
                                     f"/certificates/{cluster['uuid']}"),
        "#delete-cluster": policy_message(server, reader, "DELETE",
                                          f"/clusters/{cluster['uuid']}"),
    }
    for button, message in refusals.items():
        tab.goto(server.url + detail)
        tab.once("dialog", lambda dialog: dialog.accept())
        tab.locator(button).click()
        expect(tab.locator("#page-error")).to_contain_text(message)
        expect(tab.locator("#cluster-status")).to_have_text("CREATE_COMPLETE")

    # The policy keeps even the CA from a reader (certificate:get): the CA page and the
    # config download say so.
    reading = policy_message(server, reader, "GET", f"/certificates/{cluster['uuid']}")
    tab.goto(server.url + detail)
    tab.locator("#download-config").click()
    expect(tab.locator("#page-error")).to_have_text(f"No configuration: {reading}")
    tab.goto(server.url + detail)
    tab.locator("#show-ca").click()
    expect(tab.locator("#page-error")).to_have_text(reading)


def test_a_readers_csr_gets_the_policys_message_above_the_form(
        server: RunningServer, tab: Page, reader: User, cluster: dict[str, Any]) -> None:
    sign = f"/dashboard/clusters/{cluster['uuid']}/sign"
    csr = new_csr("reader")
    message = policy_message(server, reader, "POST", "/certificates",
                             {"cluster_uuid": cluster["uuid"], "csr": csr})
    log_in(tab, server, reader, sign)
    tab.get_by_label("Certificate signing request (PEM)").fill(csr)
    tab.get_by_role("button", name="Sign", exact=True).click()
    expect(tab.locator("#form-error")).to_have_text(message)
    expect(tab.locator("#signed-cert")).to_have_count(0)
