"""Federations as a project's users see them: stored, checked, kept honest by cluster deletes.

Clusters are real clusters of the fake driver, converged by an in-process conductor, so "a
settled cluster" means one the conductor completed; ``held`` keeps one in progress on purpose.
"""

from __future__ import annotations

import threading
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magna.db import models, repository
from magna.domain import federations as rules
from tests.conftest import make_conf
from tests.support.api import ApiClient, assert_error
from tests.support.conductor import FAST, Stack, conductor_stack, fake_template_body, wait_for
from tests.support.fake_driver import held

ZONE = {"dns-zone": "example.com."}
SUMMARY = ["uuid", "name", "hostcluster_id", "member_ids", "status", "properties", "links"]
FULL = [*SUMMARY, "status_reason", "created_at", "updated_at"]


@pytest.fixture
def stack(tmp_path: Path, db_url: str) -> Iterator[Stack]:
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["fake"]}, conductor=FAST)
    with conductor_stack(conf, tmp_path) as running:
        yield running


@pytest.fixture
def p1(stack: Stack) -> ApiClient:
    member = stack.api.as_user("p1")
    response = member.post("/v1/clustertemplates", json=fake_template_body())
    assert response.status_code == 201, response.text
    return member


def _cluster(api: ApiClient, name: str, **labels: str) -> str:
    response = api.post("/v1/clusters", json={"name": name, "cluster_template_id":
                                              "fake-template", "node_count": 1,
                                              "labels": labels})
    assert response.status_code == 202, response.text
    uuid: str = response.json()["uuid"]
    return uuid


def _settled(stack: Stack, api: ApiClient, *names: str) -> list[str]:
    uuids = [_cluster(api, name) for name in names]
    for uuid in uuids:
        stack.wait_status(uuid, "CREATE_COMPLETE")
    return uuids


def _federation(api: ApiClient, **body: Any) -> str:
    response = api.post("/v1/federations", json={"name": "fed", "properties": ZONE, **body})
    assert response.status_code == 202, response.text
    assert list(response.json()) == ["uuid"]
    uuid: str = response.json()["uuid"]
    return uuid


def _patch(api: ApiClient, ident: str, *ops: dict[str, Any], query: str = ""
           ) -> Any:
    return api.patch(f"/v1/federations/{ident}{query}", json=list(ops))


def _members(api: ApiClient, ident: str) -> list[str]:
    members: list[str] = api.get(f"/v1/federations/{ident}").json()["member_ids"]
    return members


def test_create_show_list_and_detail(stack: Stack, p1: ApiClient) -> None:
    host, member = _settled(stack, p1, "host", "m1")
    uuid = _federation(p1, hostcluster_id="host", member_ids=["m1"])
    shown = p1.get("/v1/federations/fed").json()
    assert list(shown) == FULL
    assert (shown["uuid"], shown["hostcluster_id"], shown["member_ids"]) == (uuid, host, [member])
    assert (shown["status"], shown["status_reason"]) == ("CREATE_COMPLETE", None)
    assert shown["properties"] == ZONE
    assert shown["links"][0]["href"].endswith(f"/v1/federations/{uuid}")
    listed = p1.get("/v1/federations").json()["federations"]
    assert [list(item) for item in listed] == [SUMMARY]
    detail = p1.get("/v1/federations/detail").json()["federations"]
    assert detail == [shown]
    unnamed = _federation(p1, name=None, hostcluster_id=host)
    assert p1.get(f"/v1/federations/{unnamed}").json()["name"].endswith("-federation")
    page = p1.get("/v1/federations?limit=1").json()
    assert len(page["federations"]) == 1 and f"marker={uuid}" in page["next"]
    assert_error(p1.get("/v1/federations?sort_key=properties"), 400, "properties")


def test_create_refuses_what_it_cannot_record(stack: Stack, p1: ApiClient) -> None:
    host, member = _settled(stack, p1, "host", "m1")
    cases = [
        ({"hostcluster_id": None}, 400, "hostcluster_id"),
        ({"hostcluster_id": "nowhere"}, 404, "Cluster nowhere could not be found"),
        ({"hostcluster_id": host, "properties": None}, 400, "properties"),
        ({"hostcluster_id": host, "properties": {"zone": "x.org"}}, 400, "dns-zone"),
        ({"hostcluster_id": host, "properties": {"dns-zone": "-bad-.org"}}, 400, "'-bad-'"),
        ({"hostcluster_id": host, "properties": {"dns-zone": "10.0.0.1"}}, 400, "all digits"),
        ({"hostcluster_id": host, "properties": {"dns-zone": "a.org", "n": 1}}, 400,
         "properties"),
        ({"hostcluster_id": host, "member_ids": [member, "m1"]}, 400, "listed twice"),
        ({"hostcluster_id": host, "member_ids": ["nobody"]}, 404, "nobody"),
        ({"hostcluster_id": host, "name": "1bad"}, 400, "name"),
        ({"hostcluster_id": host, "status": "CREATE_COMPLETE"}, 400, "status"),
    ]
    for body, status, text in cases:
        assert_error(p1.post("/v1/federations", json={"name": "f", "properties": ZONE,
                                                      **body}), status, text)
    assert p1.get("/v1/federations").json()["federations"] == [], "nothing half-recorded"


def test_only_settled_clusters_host_or_join(stack: Stack, p1: ApiClient) -> None:
    (host,) = _settled(stack, p1, "host")
    with held(str(stack.state_dir), "busy"):
        busy = _cluster(p1, "busy", fake_hold="busy")
        assert_error(p1.post("/v1/federations", json={"hostcluster_id": busy,
                                                      "properties": ZONE}), 400,
                     "CREATE_IN_PROGRESS")
        fed = _federation(p1, hostcluster_id=host)
        assert_error(_patch(p1, fed, {"op": "add", "path": "/member_ids", "value": busy}),
                     400, "CREATE_IN_PROGRESS")
    stack.wait_status(busy, "CREATE_COMPLETE")
    with held(str(stack.state_dir), "busy"):
        assert p1.delete(f"/v1/clusters/{busy}").status_code == 204
        assert_error(_patch(p1, fed, {"op": "add", "path": "/member_ids", "value": "busy"}),
                     400, "being deleted")
    assert _members(p1, fed) == []


def test_join_unjoin_and_what_patch_refuses(stack: Stack, p1: ApiClient) -> None:
    host, m1, m2 = _settled(stack, p1, "host", "m1", "m2")
    fed = _federation(p1, hostcluster_id=host, member_ids=[m1])
    join = _patch(p1, fed, {"op": "add", "path": "/member_ids", "value": "m2"})
    assert join.status_code == 202 and join.json() == {"uuid": fed}
    body = p1.get(f"/v1/federations/{fed}").json()
    assert (body["member_ids"], body["status"]) == ([m1, m2], "UPDATE_COMPLETE")
    assert_error(_patch(p1, fed, {"op": "add", "path": "/member_ids", "value": m2}), 409,
                 "already a member")
    assert _patch(p1, fed, {"op": "remove", "path": "/member_ids", "value": m1}
                  ).status_code == 202
    assert _members(p1, fed) == [m2]
    assert_error(_patch(p1, fed, {"op": "remove", "path": "/member_ids", "value": "m1"}), 404,
                 "not a member")
    assert_error(_patch(p1, fed, {"op": "remove", "path": "/member_ids", "value": "ghost"}),
                 404, "ghost")
    assert _patch(p1, fed, {"op": "replace", "path": "/member_ids", "value": [m1, "host"]}
                  ).status_code == 202
    assert _members(p1, fed) == [m1, host]
    for op, status, text in [
        ({"op": "replace", "path": "/name", "value": "other"}, 400, "name"),
        ({"op": "replace", "path": "/hostcluster_id", "value": m1}, 400, "hostcluster_id"),
        ({"op": "replace", "path": "/status", "value": "UPDATE_FAILED"}, 400, "internal"),
        ({"op": "remove", "path": "/member_ids"}, 400, "mandatory"),
        ({"op": "replace", "path": "/properties/dns-zone", "value": "no zone"}, 400,
         "dns-zone"),
        ({"op": "remove", "path": "/properties/dns-zone"}, 400, "dns-zone"),
        ({"op": "replace", "path": "/member_ids", "value": "m1"}, 400, "member_ids"),
        ({"op": "add", "path": "/labels", "value": {}}, 400, "labels"),
    ]:
        assert_error(_patch(p1, fed, op), status, text)
    assert _members(p1, fed) == [m1, host], "a refused PATCH changes nothing"
    assert_error(_patch(p1, fed, {"op": "add", "path": "/properties/team", "value": "x"},
                        query="?rollback=maybe"), 400, "rollback")
    assert _patch(p1, fed, {"op": "add", "path": "/properties/team", "value": "blue"},
                  {"op": "remove", "path": "/member_ids", "value": host},
                  query="/?rollback=True").status_code == 202
    body = p1.get(f"/v1/federations/{fed}").json()
    assert (body["properties"], body["member_ids"]) == ({**ZONE, "team": "blue"}, [m1])


def test_other_projects_and_roles(stack: Stack, p1: ApiClient) -> None:
    (host,) = _settled(stack, p1, "host")
    fed = _federation(p1, hostcluster_id=host)
    stranger = stack.api.as_user("p2")
    assert_error(stranger.get(f"/v1/federations/{fed}"), 404, "could not be found")
    assert stranger.get("/v1/federations").json()["federations"] == []
    assert_error(_patch(stranger, fed, {"op": "add", "path": "/properties/x", "value": "y"}),
                 404)
    assert_error(stranger.delete(f"/v1/federations/{fed}"), 404)
    assert_error(stranger.post("/v1/federations", json={"hostcluster_id": host,
                                                        "properties": ZONE}), 404, host)
    reader = stack.api.as_user("p1", roles="reader")
    assert reader.get(f"/v1/federations/{fed}").status_code == 200
    assert_error(reader.post("/v1/federations", json={"hostcluster_id": host,
                                                      "properties": ZONE}), 403,
                 "federation:create")
    assert_error(_patch(reader, fed, {"op": "add", "path": "/properties/x", "value": "y"}),
                 403, "federation:update")
    assert_error(reader.delete(f"/v1/federations/{fed}"), 403, "federation:delete")
    other_role = stack.api.as_user("p1", roles="auditor")
    assert_error(other_role.get(f"/v1/federations/{fed}"), 403, "federation:get")
    assert_error(other_role.get("/v1/federations"), 403, "federation:get_all")
    assert_error(other_role.get("/v1/federations/detail"), 403, "federation:detail")
    listed = stack.api.get("/v1/federations").json()["federations"]
    assert [f["uuid"] for f in listed] == [fed], "an administrator sees every project"


def test_a_host_stays_and_a_deleted_member_leaves(stack: Stack, p1: ApiClient) -> None:
    host, m1, m2 = _settled(stack, p1, "host", "m1", "m2")
    fed = _federation(p1, hostcluster_id=host, member_ids=[m1, m2])
    assert_error(p1.delete("/v1/clusters/host"), 409, f"federation fed ({fed})")
    assert stack.api.get(f"/v1/clusters/{host}").json()["status"] == "CREATE_COMPLETE"
    assert p1.delete(f"/v1/clusters/{m1}").status_code == 204
    body = p1.get(f"/v1/federations/{fed}").json()
    assert body["member_ids"] == [m2], "left with the delete request"
    assert body["status"] == "UPDATE_COMPLETE" and m1 in body["status_reason"]
    stack.wait_gone(m1)
    assert _members(p1, fed) == [m2]
    assert p1.delete(f"/v1/federations/{fed}").status_code == 204
    assert_error(p1.get(f"/v1/federations/{fed}"), 404, f"Federation {fed} could not be found")
    assert p1.delete("/v1/clusters/host").status_code == 204
    stack.wait_gone(host)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=12),
                    st.sampled_from(["host", "m1", "example.org", "-x-"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
patch_ops = st.lists(st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "test"]),
     "path": st.sampled_from(["/member_ids", "/properties", "/properties/dns-zone",
                              "/properties/x", "/name", "/hostcluster_id", "/status", "/x/y"]),
     "value": values}), max_size=3)


def test_random_patches_never_fail_the_server(stack: Stack, p1: ApiClient) -> None:
    host, member = _settled(stack, p1, "host", "m1")
    fed = _federation(p1, hostcluster_id=host)

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(ops=st.one_of(values, patch_ops))
    def check(ops: Any) -> None:
        response = p1.patch(f"/v1/federations/{fed}", json=ops)
        assert response.status_code < 500, (ops, response.text)
        if response.status_code >= 400:
            assert response.json()["errors"][0]["status"] == response.status_code
        body = p1.get(f"/v1/federations/{fed}").json()
        assert set(body["member_ids"]) <= {host, member}
        assert rules.dns_zone_problem(body["properties"]["dns-zone"]) is None

    check()


def test_a_host_delete_waits_for_a_federation_being_created(stack: Stack, p1: ApiClient,
                                                             db_url: str) -> None:
    """PostgreSQL and MariaDB: a delete request that raced a federation create in flight sees
    it (409)."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time; there is no race to lose")
    (host,) = _settled(stack, p1, "host")
    answers: list[int] = []
    with stack.services.sessions() as session, session.begin():
        # What services.federations.create does before it commits: the host read FOR SHARE,
        # the federation written.
        scope = repository.Scope(project_id="p1")
        repository.get_by_ident(session, models.Cluster, host, scope, "cluster",
                                shared_lock=True)
        session.add(models.Federation(uuid=str(uuidlib.uuid4()), name="racing", project_id="p1",
                                      hostcluster_id=host, properties=ZONE,
                                      status="CREATE_COMPLETE"))
        session.flush()
        deleting = threading.Thread(
            target=lambda: answers.append(p1.delete(f"/v1/clusters/{host}").status_code))
        deleting.start()
        wait_for(lambda: _waiting_on_a_lock(session), 20, "the delete to wait for the row")
    deleting.join(30)
    assert answers == [409]
    assert stack.api.get(f"/v1/clusters/{host}").json()["status"] == "CREATE_COMPLETE"


def _waiting_on_a_lock(session: Any) -> bool:
    if session.get_bind().dialect.name == "postgresql":
        query = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                 "pid <> pg_backend_pid()")
    else:
        query = ("SELECT count(*) FROM information_schema.innodb_trx t JOIN "
                 "information_schema.processlist p ON p.id = t.trx_mysql_thread_id WHERE "
                 "t.trx_state = 'LOCK WAIT' AND p.db = DATABASE()")
    return bool(session.execute(sa.text(query)).scalar_one())
