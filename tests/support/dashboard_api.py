"""What the dashboard's browser tests share: the API as a user, a Keystone server, a login.

A test acts in the browser and checks the outcome through the API (``api``), as the same user
or the local administrator; ``keystone_magna`` is a ``magna serve`` behind the suite's real
Keystone, and the ``keystone_server`` fixture one on the fake driver for a test module (the
basics' and the cluster forms' modules each start their own); ``log_in`` signs a tab in with
the dashboard's own form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.keystone_server import KeystoneServer, User
from tests.support.api import LATEST
from tests.support.server import RunningServer, magna_server


def api(server: RunningServer, token: str | None = None) -> httpx.Client:
    """The server's API, as the token's user (noauth: the local administrator)."""
    headers = {**LATEST, **({"X-Auth-Token": token} if token else {})}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


@contextmanager
def keystone_magna(keystone: KeystoneServer, state_dir: str) -> Iterator[RunningServer]:
    extra: dict[str, dict[str, object]] = {
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": keystone.authtoken_options()}
    with magna_server(state_dir, extra=extra) as running:
        yield running


@pytest.fixture(scope="module")
def keystone_server(keystone: KeystoneServer,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    extra: dict[str, dict[str, object]] = {
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": keystone.authtoken_options(),
        "drivers": {"enabled_drivers": "fake"}}
    with magna_server(str(tmp_path_factory.mktemp("dash-ks")), extra=extra) as running:
        yield running


def log_in(tab: Page, server: RunningServer, user: User, target: str) -> None:
    """Open ``target``, sign in on the login page it leads to, and land on ``target``."""
    tab.goto(server.url + target)
    tab.get_by_label("User name").fill(user.name)
    tab.get_by_label("Password").fill(user.password)
    tab.get_by_label("Project").fill(user.project.name)
    tab.get_by_role("button", name="Log in").click()
    expect(tab).to_have_url(re.compile(re.escape(target) + "$"))
