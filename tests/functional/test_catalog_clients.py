"""The stock ``openstack keypair|flavor|image`` commands (python-openstackclient over
openstacksdk) against a real ``magna serve``: in noauth, with the endpoint given on the command
line, and with a real Keystone whose catalog names Magna's ``compute`` and ``image`` endpoints,
as docs/catalog-apis.md tells an operator to register them. A key made with the client is the
one a cluster template names (``openstack coe``), and belongs to its user. That story (keypair
create and list, template and cluster create, cluster list) runs on SQLite, PostgreSQL and
MariaDB, about 8 s each; the rest reads catalogs, not the database, and runs on SQLite.

The servers run the fake driver beside the local Swarm driver (their catalogs merged), so a
cluster is accepted without building nodes. The last test builds a real local Swarm cluster
from a template naming a key made with ``openstack keypair create`` and logs into its node with
``ssh`` (root, docker.io and OpenSSH needed).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from magna.drivers.local_nodes import network
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from magna.services.keypairs import md5_fingerprint
from tests.conftest import make_conf
from tests.keystone_server import KeystoneServer, User
from tests.support import backing
from tests.support.local_swarm import cleaned
from tests.support.server import RunningServer, magna_server
from tests.support.ssh import login as ssh_login
from tests.support.ssh import make_key

OPENSTACK = str(Path(sys.executable).parent / "openstack")
DRIVERS: dict[str, dict[str, object]] = {"drivers": {"enabled_drivers": "fake,local-swarm"}}
pytestmark = [pytest.mark.client,
              pytest.mark.skipif(not os.path.exists(OPENSTACK),
                                 reason="the openstack client is not installed in this venv")]


def public_key_file(path: Path) -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    path.write_text(f"{key} me@laptop\n")
    return f"{key} me@laptop"


def openstack(*args: str, env: dict[str, str], ok: bool = True
              ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    done = subprocess.run([OPENSTACK, *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **env})
    assert "Traceback" not in done.stderr, done.stderr
    if ok:
        assert done.returncode == 0, f"{args}: {done.stderr}"
    return done


def as_json(*args: str, env: dict[str, str]) -> Any:
    return json.loads(openstack(*args, "-f", "json", env=env).stdout)


# -- noauth -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def noauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with magna_server(str(tmp_path_factory.mktemp("catalog-noauth")), extra=DRIVERS) as server:
        yield server


@pytest.fixture(scope="module", params=[
    "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb)])
def noauth_on_each_database(request: pytest.FixtureRequest,
                            tmp_path_factory: pytest.TempPathFactory
                            ) -> Iterator[RunningServer]:
    """A noauth server on the embedded SQLite, on PostgreSQL and on MariaDB (the keypair
    story below makes templates and clusters, which the database keeps)."""
    with contextlib.ExitStack() as stack:
        url = None if request.param == "sqlite" else stack.enter_context(
            backing.postgres_database() if request.param == "postgresql"
            else backing.mariadb_database())
        state = str(tmp_path_factory.mktemp(f"catalog-{request.param}"))
        yield stack.enter_context(magna_server(state, url, extra=DRIVERS))


def noauth_args(server: RunningServer, path: str) -> tuple[str, ...]:
    # NOTE: with auth type "none" every service's endpoint is the one given, the identity
    # service's too: the keypair commands ask for an identity v3 client, which the compute
    # version document would make a "v2"; --os-identity-api-version 3 says which it is.
    return ("--os-auth-type", "none", "--os-identity-api-version", "3",
            "--os-endpoint", server.url + path)


def test_noauth_keypairs_with_the_stock_client(noauth_on_each_database: RunningServer,
                                               tmp_path: Path) -> None:
    noauth = noauth_on_each_database
    compute = noauth_args(noauth, "/compute/v2.1")
    key = public_key_file(tmp_path / "id_ed25519.pub")
    made = as_json(*compute, "keypair", "create", "--public-key",
                   str(tmp_path / "id_ed25519.pub"), "testkey", env={})
    assert (made["name"], made["type"]) == ("testkey", "ssh")
    assert made["fingerprint"] == md5_fingerprint(key)
    listed = as_json(*compute, "keypair", "list", env={})
    assert {k["Name"] for k in listed} == {"testkey", "fake-key"}
    shown = openstack(*compute, "keypair", "show", "--public-key", "testkey", env={})
    assert shown.stdout.strip() == key
    # The key is the one the Magnum API's templates name.
    assert httpx.get(f"{noauth.endpoint}/keypairs/testkey").json()["public_key"] == key
    coe = ("--os-auth-type", "none", "--os-endpoint", noauth.endpoint, "coe")
    openstack(*coe, "cluster", "template", "create", "keyed", "--coe", "swarm-mode",
              "--image", "fake-image", "--external-network", "public", "--keypair", "testkey",
              env={})
    openstack(*coe, "cluster", "create", "--cluster-template", "keyed", "c1", env={})
    assert httpx.get(f"{noauth.endpoint}/clusters/c1").json()["keypair"] == "testkey"
    listed_clusters = as_json(*coe, "cluster", "list", env={})
    assert [(c["name"], c["keypair"]) for c in listed_clusters] == [("c1", "testkey")]
    openstack(*compute, "keypair", "delete", "testkey", env={})
    missing = openstack(*compute, "keypair", "show", "testkey", env={}, ok=False)
    assert missing.returncode == 1 and "No Keypair found for testkey" in missing.stderr
    bad = openstack(*compute, "keypair", "create", "--public-key", "/etc/hostname", "bad",
                    env={}, ok=False)
    assert "Keypair data is invalid" in bad.stderr and "400" in bad.stderr


def test_noauth_flavors_and_images(noauth: RunningServer) -> None:
    compute = noauth_args(noauth, "/compute/v2.1")
    flavors = as_json(*compute, "flavor", "list", env={})
    assert {f["Name"]: f["RAM"] for f in flavors}["m1.small"] == 2048
    small = as_json(*compute, "flavor", "show", "m1.small", env={})
    assert (small["id"], small["vcpus"], small["disk"]) == ("2", 1, 20)
    image = noauth_args(noauth, "/image")
    names = {i["Name"] for i in as_json(*image, "image", "list", env={})}
    assert {"debian-12-docker", "fake-image", "fedora-coreos-latest"} <= names
    shown = as_json(*image, "image", "show", "debian-12-docker", env={})
    assert shown["status"] == "active" and shown["properties"]["os_distro"] == "debian"
    refused = openstack(*image, "image", "create", "--file", "/etc/hostname", "mine", env={},
                        ok=False)
    assert refused.returncode == 1 and "501" in refused.stderr
    assert "read-only" in refused.stderr


# -- Keystone ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keyed(keystone: KeystoneServer,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    extra: dict[str, dict[str, object]] = {
        **DRIVERS, "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": keystone.authtoken_options()}
    with magna_server(str(tmp_path_factory.mktemp("catalog-ks")), extra=extra) as server:
        services = [register(keystone, kind, url) for kind, url in (
            ("compute", f"{server.url}/compute/v2.1"), ("image", f"{server.url}/image"),
            ("container-infra", server.endpoint))]
        try:
            yield server
        finally:
            for service in services:
                keystone._admin("DELETE", f"/services/{service}")


def register(keystone: KeystoneServer, kind: str, url: str) -> str:
    """What ``openstack service create`` and ``openstack endpoint create`` do."""
    service: str = keystone._admin("POST", "/services", json={
        "service": {"type": kind, "name": f"magna-{kind}"}})["service"]["id"]
    keystone._admin("POST", "/endpoints", json={"endpoint": {
        "service_id": service, "interface": "public", "url": url, "region_id": "RegionOne"}})
    return service


def login(user: User) -> dict[str, str]:
    return {"OS_AUTH_URL": user.server.url, "OS_USERNAME": user.name,
            "OS_PASSWORD": user.password, "OS_PROJECT_NAME": user.project.name,
            "OS_USER_DOMAIN_ID": "default", "OS_PROJECT_DOMAIN_ID": "default",
            "OS_IDENTITY_API_VERSION": "3"}


def test_keystone_catalog_serves_the_stock_commands(keystone: KeystoneServer, keyed: RunningServer,
                                                    tmp_path: Path) -> None:
    project = keystone.make_project("catalog")
    alice = keystone.make_user(project, "member", name=f"alice-{project.id[:6]}")
    bob = keystone.make_user(project, "member", name=f"bob-{project.id[:6]}")
    key = public_key_file(tmp_path / "id.pub")
    made = as_json("keypair", "create", "--public-key", str(tmp_path / "id.pub"), "alices",
                   env=login(alice))
    assert made["user_id"] == alice.id
    shown = openstack("keypair", "show", "--public-key", "alices", env=login(alice))
    assert shown.stdout.strip() == key
    # Bob, in the same project, neither sees nor uses Alice's key, nor takes its name.
    assert [k["Name"] for k in as_json("keypair", "list", env=login(bob))] == ["fake-key"]
    hidden = openstack("keypair", "show", "alices", env=login(bob), ok=False)
    assert hidden.returncode == 1 and "No Keypair found for alices" in hidden.stderr
    taken = openstack("keypair", "create", "--public-key", str(tmp_path / "id.pub"), "alices",
                      env=login(bob), ok=False)
    assert "409" in taken.stderr and "already exists" in taken.stderr
    # Alice's template and cluster name her key; the catalog found Magna's endpoints.
    openstack("coe", "cluster", "template", "create", "hers", "--coe", "swarm-mode", "--image",
              "fake-image", "--external-network", "public", "--keypair", "alices",
              env=login(alice))
    openstack("coe", "cluster", "create", "--cluster-template", "hers", "c1", env=login(alice))
    assert {f["Name"] for f in as_json("flavor", "list", env=login(bob))} >= {"m1.small"}
    assert "fake-image" in {i["Name"] for i in as_json("image", "list", env=login(bob))}
    assert as_json("image", "show", "fake-image", env=login(bob))["status"] == "active"
    # The cloud administrator sees Alice's keys by naming her (Nova's 2.10).
    theirs = as_json("--os-compute-api-version", "2.10", "keypair", "list", "--user",
                     alice.name, env=login(keystone.admin_user()))
    assert {k["Name"] for k in theirs} == {"alices", "fake-key"}  # hers and everyone's
    openstack("keypair", "delete", "alices", env=login(alice))
    assert [k["Name"] for k in as_json("keypair", "list", env=login(alice))] == ["fake-key"]


def test_keystone_version_documents_are_public(keyed: RunningServer) -> None:
    assert httpx.get(f"{keyed.url}/compute/v2.1").status_code == 200
    assert httpx.get(f"{keyed.url}/image/versions").status_code == 200
    refused = httpx.get(f"{keyed.url}/compute/v2.1/flavors")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == 401
    assert httpx.get(f"{keyed.url}/image/v2/images").status_code == 401


# -- a real cluster ---------------------------------------------------------------------------

def wait_for(server: RunningServer, name: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        response = httpx.get(f"{server.endpoint}/clusters/{name}", timeout=10)
        body: dict[str, Any] = response.json()
        if response.status_code == 404 and status == "gone":
            return body
        assert not body.get("status", "").endswith("FAILED"), body
        if body.get("status") == status:
            return body
        time.sleep(1)
    raise AssertionError(f"cluster {name} did not reach {status}")


@pytest.mark.docker
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None
                    or shutil.which("sshd") is None or shutil.which("ssh") is None,
                    reason="needs root, docker.io, openssh-server and openssh-client")
def test_nodes_accept_the_key_made_with_the_stock_client(tmp_path: Path) -> None:
    key = make_key(tmp_path / "id_ed25519")
    state = tmp_path / "state"
    with magna_server(str(state)) as server:
        openstack(*noauth_args(server, "/compute/v2.1"), "keypair", "create", "--public-key",
                  f"{key}.pub", "testkey", env={})
        coe = ("--os-auth-type", "none", "--os-endpoint", server.endpoint, "coe")
        openstack(*coe, "cluster", "template", "create", "keyed", "--coe", "swarm-mode",
                  "--image", "debian-12-docker", "--external-network", "public", "--flavor",
                  "m1.small", "--master-flavor", "m1.small", "--keypair", "testkey", env={})
        openstack(*coe, "cluster", "create", "--cluster-template", "keyed", "--node-count", "0",
                  "c1", env={})
        uuid = httpx.get(f"{server.endpoint}/clusters/c1").json()["uuid"]
        with cleaned(LocalSwarmDriver(make_conf(state)), uuid):
            try:
                master = wait_for(server, "c1", "CREATE_COMPLETE")["master_addresses"][0]
                done = ssh_login(key, "debian", master, "id -un")
                assert (done.returncode, done.stdout.strip()) == (0, "debian"), done.stderr
            finally:
                httpx.delete(f"{server.endpoint}/clusters/c1")
                with contextlib.suppress(AssertionError):
                    wait_for(server, "c1", "gone")
    assert not any(network.short_id(uuid) in link for link in os.listdir("/sys/class/net"))
