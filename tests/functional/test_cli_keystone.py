"""The ``magna`` command line against a ``magna serve`` that validates tokens with a real Keystone:
a password login with the ``OS_*`` variables, a ready token, the catalog's endpoint, and the
errors a user sees when the credentials are wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.keystone_server import KeystoneServer, Project, User
from tests.support.server import RunningServer, magna_server

pytestmark = pytest.mark.keystone


@pytest.fixture(scope="module")
def server(keystone: KeystoneServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    extra: dict[str, dict[str, object]] = {
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": keystone.authtoken_options()}
    with magna_server(str(tmp_path_factory.mktemp("magna-ks")), extra=extra) as running:
        yield running


@pytest.fixture(scope="module")
def member(keystone: KeystoneServer) -> User:
    return keystone.make_user(keystone.make_project("cli"), "member")


def magna(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OS_", "MAGNA_"))}
    return subprocess.run([sys.executable, "-m", "magna", *args], capture_output=True,
                          text=True, timeout=120, env={**clean, **env})


def login_env(keystone: KeystoneServer, user: User, project: Project) -> dict[str, str]:
    return {"OS_AUTH_URL": keystone.url, "OS_USERNAME": user.name,
            "OS_PASSWORD": user.password, "OS_PROJECT_NAME": project.name}


def test_password_login_acts_as_the_user(keystone: KeystoneServer, server: RunningServer,
                                         member: User, tmp_path: Path) -> None:
    env = {**login_env(keystone, member, member.project), "MAGNA_URL": server.url}
    made = magna("cluster", "template", "create", "mine", "--coe", "swarm-mode", "--image",
                 "debian-12-docker", "--external-network", "public", "-f", "json", env=env)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["project_id"] == member.project.id
    listed = magna("cluster", "template", "list", "-f", "value", "-c", "name", env=env)
    assert listed.stdout.split() == ["mine"]
    # A ready token works the same way.
    token_env = {"OS_AUTH_TOKEN": member.token(), "MAGNA_URL": server.url}
    assert magna("baymodel-list", "-f", "value", "-c", "name", env=token_env).stdout == "mine\n"


def test_endpoint_from_the_catalog(keystone: KeystoneServer, server: RunningServer,
                                   member: User) -> None:
    service = keystone._admin("POST", "/services", json={
        "service": {"type": "container-infra", "name": "magnum"}})["service"]["id"]
    keystone._admin("POST", "/endpoints", json={"endpoint": {
        "service_id": service, "interface": "public", "url": server.endpoint,
        "region_id": "RegionOne"}})
    try:
        shown = magna("service-list", env=login_env(keystone, member, member.project))
        # No MAGNA_URL: the catalog named the server, which then refused a non-admin.
        assert shown.returncode == 1
        assert shown.stderr.startswith("ERROR: ") and "(HTTP 403)" in shown.stderr, shown.stderr
    finally:
        keystone._admin("DELETE", f"/services/{service}")


def test_wrong_credentials_are_reported_plainly(keystone: KeystoneServer,
                                                server: RunningServer, member: User) -> None:
    bad = {**login_env(keystone, member, member.project), "OS_PASSWORD": "wrong",
           "MAGNA_URL": server.url}
    refused = magna("bay-list", env=bad)
    assert refused.returncode == 1 and "(HTTP 401)" in refused.stderr
    assert "Traceback" not in refused.stderr
    anonymous = magna("bay-list", env={"MAGNA_URL": server.url})
    assert anonymous.returncode == 1
    assert anonymous.stderr == ("ERROR: The request you have made requires authentication. "
                                "(HTTP 401)\n")
