"""User stories for ``[api] auth_strategy = keystone`` against a real Keystone.

Projects A and B each have members; A also has a reader; the bootstrap ``admin`` is the cloud
administrator. Every request carries a real token issued by Keystone and validated by Magna.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from magna import conf as magna_conf
from tests.keystone_server import KeystoneServer, Project, User, free_port
from tests.support.api import ApiClient, assert_error, make_cluster, make_template

pytestmark = pytest.mark.keystone

UNAUTHENTICATED = "The request you have made requires authentication."


@dataclass(frozen=True)
class World:
    project_a: Project
    project_b: Project
    member_a: User
    reader_a: User
    member_b: User
    admin: User


@dataclass
class KeystoneCalls:
    """Every request Magna's Keystone client sends, recorded on the way out."""

    requests: list[httpx.Request]

    def validations(self) -> int:
        return sum(1 for r in self.requests if r.method == "GET" and _is_tokens(r))

    def service_logins(self) -> int:
        return sum(1 for r in self.requests if r.method == "POST" and _is_tokens(r))


def _is_tokens(request: httpx.Request) -> bool:
    return request.url.path.rstrip("/").endswith("/v3/auth/tokens")


@contextmanager
def magna_api(state_dir: Path, keystone: KeystoneServer,
              **authtoken: object) -> Iterator[TestClient]:
    """A Magna API in-process with ``auth_strategy = keystone`` and a fresh SQLite database."""
    from magna.cmd.api import build_app

    conf = magna_conf.load([], [], overrides={
        "DEFAULT": {"state_dir": str(state_dir)},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": keystone.authtoken_options(**authtoken)})
    with TestClient(build_app(conf)) as client:
        yield client


def as_token(client: TestClient, token: str) -> ApiClient:
    return ApiClient(client, {"X-Auth-Token": token})


@functools.cache
def token_of(user: User) -> str:
    """One token per user for the stories that do not revoke it (tests that do get their own)."""
    return user.token()


def as_user(client: TestClient, user: User) -> ApiClient:
    return as_token(client, token_of(user))


@pytest.fixture(scope="module")
def world(keystone: KeystoneServer) -> World:
    project_a, project_b = keystone.make_project("a"), keystone.make_project("b")
    return World(project_a=project_a, project_b=project_b,
                 member_a=keystone.make_user(project_a, "member"),
                 reader_a=keystone.make_user(project_a, "reader"),
                 member_b=keystone.make_user(project_b, "member"),
                 admin=keystone.admin_user())


@pytest.fixture(scope="module")
def magna(keystone: KeystoneServer,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The default set-up: validated tokens are cached for 300 seconds."""
    with magna_api(tmp_path_factory.mktemp("magna"), keystone) as client:
        yield client


@pytest.fixture
def keystone_calls(monkeypatch: pytest.MonkeyPatch) -> KeystoneCalls:
    calls = KeystoneCalls([])
    send = httpx.AsyncClient.send

    async def recording_send(self: httpx.AsyncClient, request: httpx.Request,
                             **kwargs: Any) -> httpx.Response:
        calls.requests.append(request)
        return await send(self, request, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "send", recording_send)
    return calls


def names(response: httpx.Response, collection: str = "clustertemplates") -> set[str]:
    assert response.status_code == 200, response.text
    return {item["uuid"] for item in response.json()[collection]}


# -- 1. who needs a token ----------------------------------------------------------------------


def test_root_and_v1_need_no_token(magna: TestClient) -> None:
    assert magna.get("/").status_code == 200
    assert magna.get("/v1").status_code == 200


def test_missing_token_gets_keystone_shaped_401(magna: TestClient,
                                                keystone: KeystoneServer) -> None:
    response = magna.get("/v1/clustertemplates")

    assert response.status_code == 401
    assert response.json() == {"error": {"code": 401, "title": "Unauthorized",
                                         "message": UNAUTHENTICATED}}
    assert response.headers["www-authenticate"] == f'Keystone uri="{keystone.url}"'


@pytest.mark.parametrize("token", ["not-a-real-token", "gAAAAA" + "x" * 180, "t\xf6ken"])
def test_garbage_token_gets_401(magna: TestClient, keystone: KeystoneServer,
                                token: str) -> None:
    headers = {"X-Auth-Token": token.encode("latin-1")}
    response = magna.get("/v1/clustertemplates", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["message"] == UNAUTHENTICATED
    assert response.headers["www-authenticate"] == f'Keystone uri="{keystone.url}"'


def test_identity_comes_from_the_token(magna: TestClient, world: World) -> None:
    template = make_template(as_user(magna, world.member_a), name="whose")

    assert template["project_id"] == world.project_a.id
    assert template["user_id"] == world.member_a.id


# -- 2. projects do not see each other's templates ---------------------------------------------


def test_other_project_cannot_see_or_touch_a_template(magna: TestClient, world: World) -> None:
    alice, bob = as_user(magna, world.member_a), as_user(magna, world.member_b)
    uuid = make_template(alice, name="t")["uuid"]
    url = f"/v1/clustertemplates/{uuid}"
    rename = [{"op": "replace", "path": "/name", "value": "stolen"}]

    assert_error(bob.get(url), 404)
    assert uuid not in names(bob.get("/v1/clustertemplates"))
    assert_error(bob.patch(url, json=rename), 404)
    assert_error(bob.delete(url), 404)
    assert alice.get(url).json()["name"] == "t"


# -- 3. readers read -----------------------------------------------------------------------------


def test_reader_can_read_but_not_create(magna: TestClient, world: World) -> None:
    uuid = make_template(as_user(magna, world.member_a), name="for-readers")["uuid"]
    reader = as_user(magna, world.reader_a)

    assert reader.get(f"/v1/clustertemplates/{uuid}").status_code == 200
    assert uuid in names(reader.get("/v1/clustertemplates"))
    body = {"name": "t", "coe": "swarm-mode", "image_id": "debian-12-docker",
            "external_network_id": "public", "flavor_id": "m1.small",
            "master_flavor_id": "m1.small"}
    assert_error(reader.post("/v1/clustertemplates", json=body), 403)


# -- 4. only the admin publishes ---------------------------------------------------------------


def test_member_cannot_create_a_public_template(magna: TestClient, world: World) -> None:
    response = as_user(magna, world.member_a).post(
        "/v1/clustertemplates", json={"name": "pub", "coe": "swarm-mode",
                                      "image_id": "debian-12-docker", "public": True})
    assert_error(response, 403)


def test_admin_public_template_is_listed_for_every_project(magna: TestClient,
                                                           world: World) -> None:
    uuid = make_template(as_user(magna, world.admin), name="shared", public=True)["uuid"]

    assert uuid in names(as_user(magna, world.member_b).get("/v1/clustertemplates"))
    assert uuid in names(as_user(magna, world.reader_a).get("/v1/clustertemplates"))


def test_admin_publishes_a_project_template(magna: TestClient, world: World) -> None:
    uuid = make_template(as_user(magna, world.member_a), name="later-public")["uuid"]
    bob = as_user(magna, world.member_b)
    assert uuid not in names(bob.get("/v1/clustertemplates"))

    publish = [{"op": "replace", "path": "/public", "value": True}]
    response = as_user(magna, world.admin).patch(f"/v1/clustertemplates/{uuid}", json=publish)

    assert response.status_code == 200, response.text
    assert uuid in names(bob.get("/v1/clustertemplates"))


# -- 5. validation cache and the service token -------------------------------------------------


def test_validated_token_is_cached(magna: TestClient, world: World,
                                   keystone_calls: KeystoneCalls) -> None:
    alice = as_token(magna, world.member_a.token())

    assert alice.get("/v1/clustertemplates").status_code == 200
    assert alice.get("/v1/clustertemplates").status_code == 200

    assert keystone_calls.validations() == 1


def test_revoked_token_is_honoured_while_cached(magna: TestClient, world: World,
                                                keystone: KeystoneServer) -> None:
    token = world.member_a.token()
    alice = as_token(magna, token)
    assert alice.get("/v1/clustertemplates").status_code == 200

    keystone.revoke_token(token)

    assert alice.get("/v1/clustertemplates").status_code == 200


def test_cache_entry_expires_after_token_cache_time(
        keystone: KeystoneServer, world: World, tmp_path: Path) -> None:
    token = world.member_a.token()
    with magna_api(tmp_path, keystone, token_cache_time=2) as client:
        alice = as_token(client, token)
        assert alice.get("/v1/clustertemplates").status_code == 200
        keystone.revoke_token(token)
        assert alice.get("/v1/clustertemplates").status_code == 200
        time.sleep(2.2)
        assert alice.get("/v1/clustertemplates").status_code == 401


def test_without_cache_revocation_takes_effect_at_once(
        keystone: KeystoneServer, world: World, tmp_path: Path,
        keystone_calls: KeystoneCalls) -> None:
    token = world.member_a.token()
    with magna_api(tmp_path, keystone, token_cache_time=0,
                   www_authenticate_uri="https://keystone.example.com/v3") as client:
        alice = as_token(client, token)
        assert alice.get("/v1/clustertemplates").status_code == 200
        assert alice.get("/v1/clustertemplates").status_code == 200
        keystone.revoke_token(token)
        response = alice.get("/v1/clustertemplates")

    assert keystone_calls.validations() == 3
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Keystone uri="https://keystone.example.com/v3"'


def test_service_token_is_reused_and_renewed_when_revoked(
        magna: TestClient, world: World, keystone: KeystoneServer,
        keystone_calls: KeystoneCalls) -> None:
    for user in (world.member_a, world.member_b):
        assert as_token(magna, user.token()).get("/v1/clustertemplates").status_code == 200
    assert keystone_calls.validations() == 2
    logins = keystone_calls.service_logins()
    assert logins <= 1
    service_token = keystone_calls.requests[-1].headers["x-auth-token"]

    keystone.revoke_token(service_token)

    reader = as_token(magna, world.reader_a.token())
    assert reader.get("/v1/clustertemplates").status_code == 200
    assert keystone_calls.service_logins() == logins + 1


def test_unreachable_keystone_gives_503(keystone: KeystoneServer, world: World,
                                        tmp_path: Path) -> None:
    with magna_api(tmp_path, keystone, auth_url=f"http://127.0.0.1:{free_port()}/v3") as client:
        response = as_token(client, "any-token").get("/v1/clustertemplates")

    assert_error(response, 503)


def test_wrong_service_password_gives_503(keystone: KeystoneServer, world: World,
                                          tmp_path: Path) -> None:
    with magna_api(tmp_path, keystone, password="wrong") as client:
        response = as_user(client, world.member_a).get("/v1/clustertemplates")

    assert_error(response, 503)


# -- 6. clusters -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster_a(magna: TestClient, world: World) -> str:
    alice = as_user(magna, world.member_a)
    template = make_template(alice, name="for-clusters")["uuid"]
    return make_cluster(alice, template, name="c1")


def test_other_project_cannot_see_a_cluster(magna: TestClient, world: World,
                                            cluster_a: str) -> None:
    bob = as_user(magna, world.member_b)

    assert_error(bob.get(f"/v1/clusters/{cluster_a}"), 404)
    assert cluster_a not in names(bob.get("/v1/clusters"), "clusters")


def test_reader_can_read_but_not_delete_a_cluster(magna: TestClient, world: World,
                                                  cluster_a: str) -> None:
    reader = as_user(magna, world.reader_a)

    assert reader.get(f"/v1/clusters/{cluster_a}").status_code == 200
    assert cluster_a in names(reader.get("/v1/clusters"), "clusters")
    assert_error(reader.delete(f"/v1/clusters/{cluster_a}"), 403)


def test_admin_lists_clusters_of_all_projects(magna: TestClient, world: World,
                                              cluster_a: str) -> None:
    bob = as_user(magna, world.member_b)
    cluster_b = make_cluster(bob, make_template(bob, name="b-template")["uuid"], name="c1")

    listed = names(as_user(magna, world.admin).get("/v1/clusters"), "clusters")

    assert {cluster_a, cluster_b} <= listed
    assert cluster_a not in names(bob.get("/v1/clusters"), "clusters")
