"""Clusters converge through the conductor (in process, fake driver): every path ends truthfully.

The fake driver keeps its "nodes" as files, so these tests can check that what the API reports
matches what exists, and that nothing is left behind.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from magna.db import models
from tests.conftest import make_conf
from tests.support.api import assert_error
from tests.support.conductor import FAST, Stack, conductor_stack, fake_template_body, wait_for
from tests.support.fake_driver import nodes_on_disk


@pytest.fixture
def stack(tmp_path: Path, db_url: str) -> Iterator[Stack]:
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["fake", "local-swarm"]},
                     conductor=FAST)
    with conductor_stack(conf, tmp_path) as running:
        yield running


def _template(stack: Stack, **overrides: Any) -> str:
    response = stack.api.post("/v1/clustertemplates", json=fake_template_body(**overrides))
    assert response.status_code == 201, response.text
    uuid: str = response.json()["uuid"]
    return uuid


def _cluster(stack: Stack, labels: dict[str, str] | None = None, **body: Any) -> str:
    template = _template(stack, name=f"t-{os.urandom(3).hex()}")
    payload = {"name": "c1", "cluster_template_id": template,
               "master_count": 1, "node_count": 2, **body}
    if labels is not None:
        payload["labels"] = labels
    response = stack.api.post("/v1/clusters", json=payload)
    assert response.status_code == 202, response.text
    uuid: str = response.json()["uuid"]
    return uuid


def _disk(stack: Stack, uuid: str) -> list[str]:
    return sorted(nodes_on_disk(str(stack.state_dir), uuid))


def _events(stack: Stack, uuid: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = stack.api.get(f"/v1/clusters/{uuid}/events").json()["events"]
    return events


def test_create_converges_to_complete_with_what_exists(stack: Stack) -> None:
    uuid = _cluster(stack)
    body = stack.wait_status(uuid, "CREATE_COMPLETE")
    assert len(body["master_addresses"]) == 1 and len(body["node_addresses"]) == 2
    assert body["api_address"].startswith("tcp://")
    assert body["coe_version"] == "fake-1.0"
    assert len(_disk(stack, uuid)) == 3
    groups = stack.api.get(f"/v1/clusters/{uuid}/nodegroups").json()["nodegroups"]
    assert {g["status"] for g in groups} == {"CREATE_COMPLETE"}
    assert any(e["reason"] == "Converged" for e in _events(stack, uuid))
    healthy = wait_for(lambda: stack.api.get(f"/v1/clusters/{uuid}").json()["health_status"]
                       == "HEALTHY", 10, "health to be observed")
    assert healthy


def test_scaling_up_and_down_with_nodes_to_remove(stack: Stack) -> None:
    uuid = _cluster(stack)
    stack.wait_status(uuid, "CREATE_COMPLETE")
    stack.api.patch(f"/v1/clusters/{uuid}", json=[{"op": "replace", "path": "/node_count",
                                                   "value": 4}])
    body = stack.wait_status(uuid, "UPDATE_COMPLETE")
    assert len(body["node_addresses"]) == 4 and len(_disk(stack, uuid)) == 5
    victim = next(n for n in _disk(stack, uuid) if n.startswith("default-worker"))
    response = stack.api.post(f"/v1/clusters/{uuid}/actions/resize",
                              json={"node_count": 1, "nodes_to_remove": [victim]})
    assert response.status_code == 202
    wait_for(lambda: len(_disk(stack, uuid)) == 2 and
             stack.api.get(f"/v1/clusters/{uuid}").json()["status"] == "UPDATE_COMPLETE",
             20, "scale down")
    assert victim not in _disk(stack, uuid)


def test_delete_leaves_nothing(stack: Stack) -> None:
    uuid = _cluster(stack)
    stack.wait_status(uuid, "CREATE_COMPLETE")
    assert stack.api.delete(f"/v1/clusters/{uuid}").status_code == 204
    stack.wait_gone(uuid)
    assert _disk(stack, uuid) == []
    assert not os.path.exists(stack.state_dir / "fake-driver" / uuid)
    assert_error(stack.api.get(f"/v1/certificates/{uuid}"), 404)


def test_a_failed_create_reports_why_and_can_be_retried(stack: Stack) -> None:
    uuid = _cluster(stack, labels={"fake_fail_on": "create", "fake_fail_times": "1"})
    body = stack.wait_status(uuid, "CREATE_FAILED")
    assert "injected create failure" in body["status_reason"]
    assert body["faults"], "failed nodegroups are listed"
    assert any(e["level"] == "error" for e in _events(stack, uuid))
    stack.api.patch(f"/v1/clusters/{uuid}", json=[{"op": "replace", "path": "/node_count",
                                                   "value": 3}])
    body = stack.wait_status(uuid, "UPDATE_COMPLETE")
    assert len(body["node_addresses"]) == 3


def test_a_failed_cluster_can_be_deleted(stack: Stack) -> None:
    uuid = _cluster(stack, labels={"fake_fail_on": "create"})
    stack.wait_status(uuid, "CREATE_FAILED")
    stack.api.delete(f"/v1/clusters/{uuid}")
    stack.wait_gone(uuid)


def test_a_failed_delete_is_reported_and_deleting_again_finishes(stack: Stack) -> None:
    uuid = _cluster(stack, labels={"fake_fail_on": "delete", "fake_fail_times": "1"})
    stack.wait_status(uuid, "CREATE_COMPLETE")
    stack.api.delete(f"/v1/clusters/{uuid}")
    body = stack.wait_status(uuid, "DELETE_FAILED")
    assert "injected delete failure" in body["status_reason"]
    stack.api.delete(f"/v1/clusters/{uuid}")
    stack.wait_gone(uuid)
    assert _disk(stack, uuid) == []


def test_a_stuck_create_times_out_into_create_failed(stack: Stack) -> None:
    uuid = _cluster(stack, labels={"fake_temporary": "100000"}, create_timeout=1)
    wait_for(lambda: any(e["reason"] == "Waiting" for e in _events(stack, uuid)), 10,
             "the driver to report it is still converging")
    with stack.services.transaction() as session:
        session.execute(update(models.Cluster).where(models.Cluster.uuid == uuid).values(
            status_since=models.utcnow() - dt.timedelta(minutes=2)))
    body = stack.wait_status(uuid, "CREATE_FAILED")
    assert "timed out after 1 minutes" in body["status_reason"]
    waiting = [e["message"] for e in _events(stack, uuid) if e["reason"] == "Waiting"]
    assert body["status_reason"].endswith(f"Still waiting: {waiting[-1]}")


def test_nodegroups_are_built_and_removed(stack: Stack) -> None:
    uuid = _cluster(stack)
    stack.wait_status(uuid, "CREATE_COMPLETE")
    response = stack.api.post(f"/v1/clusters/{uuid}/nodegroups",
                              json={"name": "extra", "node_count": 2})
    assert response.status_code == 202, response.text
    stack.wait_status(uuid, "UPDATE_COMPLETE")
    assert len([n for n in _disk(stack, uuid) if n.startswith("extra")]) == 2
    group = stack.api.get(f"/v1/clusters/{uuid}/nodegroups/extra").json()
    assert group["status"] == "CREATE_COMPLETE" and len(group["node_addresses"]) == 2
    stack.api.delete(f"/v1/clusters/{uuid}/nodegroups/extra")
    wait_for(lambda: stack.api.get(f"/v1/clusters/{uuid}/nodegroups/extra").status_code
             == 404, 20, "the nodegroup row to go")
    assert not [n for n in _disk(stack, uuid) if n.startswith("extra")]


def test_unhealthy_nodes_are_reported(stack: Stack) -> None:
    uuid = _cluster(stack, labels={"fake_unhealthy": "default-master-1"})
    stack.wait_status(uuid, "CREATE_COMPLETE")
    body = wait_for(lambda: (lambda b: b if b["health_status"] == "UNHEALTHY" else None)(
        stack.api.get(f"/v1/clusters/{uuid}").json()), 10, "UNHEALTHY")
    assert body["health_status_reason"]["default-master-1.Ready"].startswith("False")


def test_leftovers_of_unknown_clusters_are_collected(stack: Stack) -> None:
    stray = stack.state_dir / "fake-driver" / "5b0e8a52-0000-4000-8000-00000000dead" / "nodes"
    stray.mkdir(parents=True)
    (stray / "default-worker-1.json").write_text("{}")
    wait_for(lambda: not stray.parent.exists(), 10, "garbage collection")


def test_progress_does_not_depend_on_nudges(tmp_path: Path, db_url: str) -> None:
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["fake"]}, conductor=FAST)
    with conductor_stack(conf, tmp_path, nudge=False) as quiet:
        uuid = _cluster(quiet)
        quiet.wait_status(uuid, "CREATE_COMPLETE")


def test_a_cluster_reserved_by_a_live_conductor_is_left_alone(stack: Stack) -> None:
    from magna.db import repository

    uuid = _cluster(stack, labels={"fake_temporary": "100000"})
    wait_for(lambda: any(e["reason"] == "Waiting" for e in _events(stack, uuid)), 10, "work")
    # NOTE: its last beat is dated an hour ahead, so that "other-host" is certainly still live
    # (dead_after is 2 s) when this conductor tries to reserve, however slowly that comes.
    ahead = models.utcnow() + dt.timedelta(hours=1)
    with stack.services.transaction() as session:
        repository.upsert_service_heartbeat(session, "other-host", "magnum-conductor")
        session.execute(update(models.MagnumService).where(
            models.MagnumService.host == "other-host").values(last_seen_up=ahead,
                                                              updated_at=ahead))
        session.execute(update(models.Cluster).where(models.Cluster.uuid == uuid)
                        .values(reservation="other-host"))
    assert not stack.conductor.reconciler._reserve(uuid), "a live holder keeps its cluster"
    with stack.services.transaction() as session:
        session.execute(update(models.MagnumService).where(
            models.MagnumService.host == "other-host").values(
            last_seen_up=models.utcnow() - dt.timedelta(minutes=5),
            updated_at=models.utcnow() - dt.timedelta(minutes=5)))
    wait_for(lambda: _holder(stack, uuid) != "other-host", 10,
             "this conductor to take over the dead holder's cluster")


def test_a_conductor_whose_lease_lapsed_takes_nothing_and_keeps_the_work_queued(
        stack: Stack) -> None:
    """As if its heartbeats had not been written for an hour (a stalled database)."""
    lease = stack.conductor.reconciler.lease
    clock, renewed = lease.clock, lease.renewed
    lease.renewed = lambda began: None  # type: ignore[method-assign]
    lease.clock = lambda: clock() + 3600.0
    try:
        uuid = _cluster(stack)
        assert stack.conductor.reconciler.reconcile(uuid) is not None, "requeued, not dropped"
        assert _holder(stack, uuid) is None
        assert stack.api.get(f"/v1/clusters/{uuid}").json()["status"] == "CREATE_IN_PROGRESS"
        assert _disk(stack, uuid) == []
    finally:
        lease.clock, lease.renewed = clock, renewed  # type: ignore[method-assign]
    stack.wait_status(uuid, "CREATE_COMPLETE")


def test_a_driver_failure_after_the_lease_lapsed_is_not_recorded(stack: Stack) -> None:
    """The chaos run's paused conductor: it resumed into a node its successor had deleted,
    and its driver call failed; that failure is not the cluster's, so it is not recorded."""
    from tests.support.fake_driver import held, spans

    log = str(stack.state_dir / "fake-driver" / "operations.log")
    uuid = ""
    lease = stack.conductor.reconciler.lease
    clock, renewed = lease.clock, lease.renewed
    try:
        with held(str(stack.state_dir), "lapse"):
            uuid = _cluster(stack, labels={"fake_hold": "lapse", "fake_fail_on": "create",
                                           "fake_fail_times": "1"})
            wait_for(lambda: os.path.exists(log) and any(span.cluster == uuid
                                                         for span in spans(log)), 10,
                     "the driver's apply to be under way (held at its start)")
            lease.renewed = lambda began: None  # type: ignore[method-assign]
            lease.clock = lambda: clock() + 3600.0
        # the held apply goes on and meets its injected failure with the lease lapsed
        wait_for(lambda: _holder(stack, uuid) is None, 10, "the failed pass to end")
        assert stack.api.get(f"/v1/clusters/{uuid}").json()["status"] == "CREATE_IN_PROGRESS"
        assert not any(e["reason"] == "Failed" for e in _events(stack, uuid))
    finally:
        lease.clock, lease.renewed = clock, renewed  # type: ignore[method-assign]
    stack.wait_status(uuid, "CREATE_COMPLETE")


def _holder(stack: Stack, uuid: str) -> str | None:
    with stack.services.transaction() as session:
        cluster = session.query(models.Cluster).filter_by(uuid=uuid).one()
        return cluster.reservation


def _applied(stack: Stack, uuid: str) -> dict[str, Any]:
    import json

    record: dict[str, Any] = json.loads(
        (stack.state_dir / "fake-driver" / uuid / "cluster.json").read_text())
    return record


def test_upgrade_reaches_the_driver(stack: Stack) -> None:
    uuid = _cluster(stack)
    stack.wait_status(uuid, "CREATE_COMPLETE")
    target = _template(stack, name="target")
    response = stack.api.post(f"/v1/clusters/{uuid}/actions/upgrade",
                              json={"cluster_template": target, "max_batch_size": 2})
    assert response.status_code == 202
    stack.wait_status(uuid, "UPDATE_COMPLETE")
    assert _applied(stack, uuid)["template_uuid"] == target


def test_ca_rotation_reaches_the_driver(stack: Stack) -> None:
    import hashlib

    uuid = _cluster(stack)
    stack.wait_status(uuid, "CREATE_COMPLETE")
    before = _applied(stack, uuid)["ca_fingerprint"]
    assert stack.api.patch(f"/v1/certificates/{uuid}").status_code == 202
    stack.wait_status(uuid, "UPDATE_COMPLETE")
    after = _applied(stack, uuid)["ca_fingerprint"]
    pem = stack.api.get(f"/v1/certificates/{uuid}").json()["pem"]
    assert after != before
    assert after == hashlib.sha256(pem.encode()).hexdigest()
