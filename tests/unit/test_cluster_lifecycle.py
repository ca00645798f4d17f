"""The cluster lifecycle's transitions, input -> output, refusals included."""

from __future__ import annotations

import datetime as dt

import pytest

from magna.common.exceptions import Invalid
from magna.domain import clusters as lc

SETTLED = sorted(lc.UPDATABLE)


@pytest.mark.parametrize("status", [lc.CREATE_COMPLETE, lc.UPDATE_FAILED, lc.CREATE_FAILED,
                                    lc.ROLLBACK_FAILED, lc.DELETE_FAILED, lc.CHECK_COMPLETE])
def test_an_update_starts_an_update(status: str) -> None:
    assert lc.request_update(status, lc.PRESENT) == lc.Move(lc.UPDATE_IN_PROGRESS,
                                                            restarted=True)


def test_an_update_during_an_update_continues_it() -> None:
    assert lc.request_update(lc.UPDATE_IN_PROGRESS, lc.PRESENT) == lc.Move(
        lc.UPDATE_IN_PROGRESS, restarted=False)


def test_an_update_during_creation_keeps_creating() -> None:
    assert lc.request_update(lc.CREATE_IN_PROGRESS, lc.PRESENT) == lc.Move(
        lc.CREATE_IN_PROGRESS, restarted=False, keeps_reason=True)


@pytest.mark.parametrize("change", list(lc.Change))
@pytest.mark.parametrize(("status", "desired"), [(lc.DELETE_IN_PROGRESS, lc.ABSENT),
                                                 (lc.DELETE_COMPLETE, lc.PRESENT),
                                                 (lc.DELETE_FAILED, lc.ABSENT)])
def test_a_cluster_being_deleted_refuses_every_change(change: lc.Change, status: str,
                                                      desired: str) -> None:
    doing = "Upgrading" if change is lc.Change.UPGRADE else "Updating"
    with pytest.raises(lc.Refused) as refused:
        lc.request_update(status, desired, change)
    assert refused.value.message == f'{doing} a cluster when status is "{status}" is not ' \
                                    "supported."
    assert isinstance(refused.value, Invalid), "the API answers 400"


def test_check_update_is_the_refusal_alone() -> None:
    lc.check_update(lc.CREATE_FAILED, lc.PRESENT, lc.Change.RESIZE)
    with pytest.raises(lc.Refused):
        lc.check_update(lc.DELETE_IN_PROGRESS, lc.ABSENT, lc.Change.RESIZE)


def test_create() -> None:
    assert lc.request_create() == lc.Move(lc.CREATE_IN_PROGRESS, restarted=True)


@pytest.mark.parametrize(("status", "desired", "expected"), [
    (lc.CREATE_COMPLETE, lc.PRESENT, lc.Deletion(lc.Move(lc.DELETE_IN_PROGRESS, True), True)),
    (lc.CREATE_IN_PROGRESS, lc.PRESENT,
     lc.Deletion(lc.Move(lc.DELETE_IN_PROGRESS, True), True)),
    (lc.DELETE_FAILED, lc.ABSENT, lc.Deletion(lc.Move(lc.DELETE_IN_PROGRESS, True), False)),
    (lc.DELETE_IN_PROGRESS, lc.ABSENT,
     lc.Deletion(lc.Move(lc.DELETE_IN_PROGRESS, False), False)),
])
def test_delete_is_accepted_in_every_status(status: str, desired: str,
                                            expected: lc.Deletion) -> None:
    assert lc.request_delete(status, desired) == expected


@pytest.mark.parametrize(("before", "after"), [
    (lc.CREATE_IN_PROGRESS, lc.CREATE_IN_PROGRESS), (None, None),
    (lc.CREATE_COMPLETE, lc.UPDATE_IN_PROGRESS), (lc.UPDATE_FAILED, lc.UPDATE_IN_PROGRESS),
    (lc.DELETE_IN_PROGRESS, lc.UPDATE_IN_PROGRESS)])
def test_nodegroup_update(before: str | None, after: str | None) -> None:
    assert lc.nodegroup_update(before) == after


def test_a_nodegroup_being_deleted_refuses_changes() -> None:
    lc.check_nodegroup_update(lc.UPDATE_FAILED, lc.PRESENT)
    with pytest.raises(lc.Refused) as refused:
        lc.check_nodegroup_update(lc.DELETE_IN_PROGRESS, lc.ABSENT)
    assert refused.value.message == ('Updating a nodegroup when status is '
                                     '"DELETE_IN_PROGRESS" is not supported.')


def test_a_default_nodegroup_is_not_deleted() -> None:
    lc.check_nodegroup_delete(is_default=False)
    with pytest.raises(lc.Refused) as refused:
        lc.check_nodegroup_delete(is_default=True)
    assert refused.value.message == "Deleting a default nodegroup is not supported."


@pytest.mark.parametrize(("status", "expected"), [
    (lc.CREATE_IN_PROGRESS, lc.Outcome(lc.CREATE_COMPLETE, "CREATE completed successfully")),
    (lc.UPDATE_IN_PROGRESS, lc.Outcome(lc.UPDATE_COMPLETE, "UPDATE completed successfully")),
    (lc.ROLLBACK_IN_PROGRESS,
     lc.Outcome(lc.ROLLBACK_COMPLETE, "ROLLBACK completed successfully")),
    (lc.UPDATE_COMPLETE,
     lc.Outcome(lc.UPDATE_COMPLETE, "UPDATE completed successfully", restarted=False)),
    (None, lc.Outcome("", "UPDATE completed successfully", restarted=False)),
])
def test_complete(status: str | None, expected: lc.Outcome) -> None:
    assert lc.complete(status) == expected


@pytest.mark.parametrize(("status", "expected"), [
    (lc.CREATE_IN_PROGRESS, lc.CREATE_FAILED), (lc.UPDATE_IN_PROGRESS, lc.UPDATE_FAILED),
    (lc.DELETE_IN_PROGRESS, lc.DELETE_FAILED), (lc.ROLLBACK_IN_PROGRESS, lc.ROLLBACK_FAILED),
    (lc.CREATE_COMPLETE, lc.UPDATE_FAILED), (None, lc.UPDATE_FAILED)])
def test_fail(status: str | None, expected: str) -> None:
    assert lc.fail(status, "broken") == lc.Outcome(expected, "broken")


@pytest.mark.parametrize(("status", "expected"), [
    (lc.CREATE_IN_PROGRESS, lc.CREATE_COMPLETE), (lc.UPDATE_IN_PROGRESS, lc.UPDATE_COMPLETE),
    (lc.DELETE_IN_PROGRESS, lc.DELETE_IN_PROGRESS), (lc.UPDATE_FAILED, lc.UPDATE_FAILED),
    (None, None)])
def test_nodegroup_complete(status: str | None, expected: str | None) -> None:
    assert lc.nodegroup_complete(status) == expected


@pytest.mark.parametrize(("status", "expected"), [
    (lc.CREATE_IN_PROGRESS, lc.CREATE_FAILED), (lc.DELETE_IN_PROGRESS, lc.DELETE_FAILED),
    (lc.CREATE_COMPLETE, lc.CREATE_COMPLETE), (None, None)])
def test_nodegroup_fail(status: str | None, expected: str | None) -> None:
    assert lc.nodegroup_fail(status) == expected


@pytest.mark.parametrize("failed", sorted(lc.FAILED))
def test_failed_is_never_a_dead_end(failed: str) -> None:
    assert lc.request_update(failed, lc.PRESENT).status == lc.UPDATE_IN_PROGRESS
    assert lc.request_delete(failed, lc.PRESENT).move.status == lc.DELETE_IN_PROGRESS
    assert not lc.needs_work(failed, 1, 2), "but it waits for the user"


def test_timeout_minutes() -> None:
    limits = {"create": 30, "update": 60, "delete": 10}
    assert lc.timeout_minutes(lc.CREATE_IN_PROGRESS, **limits) == 30
    assert lc.timeout_minutes(lc.CREATE_IN_PROGRESS, **{**limits, "create": None}) == 60
    assert lc.timeout_minutes(lc.DELETE_IN_PROGRESS, **limits) == 10
    assert lc.timeout_minutes(lc.UPDATE_IN_PROGRESS, **limits) == 60


def test_timed_out_only_in_progress_and_past_the_limit() -> None:
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    later = since + dt.timedelta(minutes=5, seconds=1)
    assert lc.timed_out(lc.CREATE_IN_PROGRESS, since=since, now=later, minutes=5)
    assert not lc.timed_out(lc.CREATE_IN_PROGRESS, since=since, now=later, minutes=6)
    assert not lc.timed_out(lc.CREATE_FAILED, since=since, now=later, minutes=5)


def test_time_out_says_what_was_awaited() -> None:
    assert lc.time_out(lc.DELETE_IN_PROGRESS, minutes=3) == lc.Outcome(
        lc.DELETE_FAILED, "Delete timed out after 3 minutes.")
    assert lc.time_out(lc.CREATE_IN_PROGRESS, minutes=1, waiting="node-1 joining") == \
        lc.Outcome(lc.CREATE_FAILED, "Create timed out after 1 minutes. Still waiting: "
                                     "node-1 joining")
    assert len(lc.time_out(lc.CREATE_IN_PROGRESS, minutes=1, waiting="x" * 2000).reason) \
        == 1000


def test_needs_work() -> None:
    assert lc.needs_work(lc.DELETE_IN_PROGRESS, 2, 2)
    assert lc.needs_work(lc.UPDATE_COMPLETE, 1, 2)
    assert not lc.needs_work(lc.UPDATE_COMPLETE, 2, 2)
    assert not lc.needs_work(lc.DELETE_FAILED, 1, 2)


# -- health -------------------------------------------------------------------------------------

def make_node(name: str = "w-1", healthy: bool | None = True, reason: str = "") -> lc.NodeHealth:
    return lc.NodeHealth(name, lc.READY, healthy, reason)


def test_every_node_ready_and_an_api_is_healthy() -> None:
    health = lc.assess("tcp://10.0.0.2:2375", [make_node("m-1"), make_node("w-1")])
    assert health.status == lc.HEALTHY
    assert lc.health_reason(health.conditions) == {"api": "ok", "m-1.Ready": "True",
                                                   "w-1.Ready": "True"}


def test_a_failing_node_is_unhealthy_and_says_why() -> None:
    health = lc.assess("tcp://x", [make_node("m-1"), make_node("w-1", False, "engine down"),
                                   make_node("w-2", False)])
    assert health.status == lc.UNHEALTHY
    assert lc.health_reason(health.conditions) == {
        "api": "ok", "m-1.Ready": "True", "w-1.Ready": "False: engine down",
        "w-2.Ready": "False"}


def test_no_api_address_is_unhealthy() -> None:
    health = lc.assess(None, [make_node()])
    assert (health.status, lc.health_reason(health.conditions)) == (
        lc.UNHEALTHY, {"api": "no api address", "w-1.Ready": "True"})


@pytest.mark.parametrize("nodes", [[], [make_node(), make_node("w-2", None)]])
def test_unknown_when_a_node_is_not_known(nodes: list[lc.NodeHealth]) -> None:
    assert lc.assess("tcp://x", nodes).status == lc.UNKNOWN


def test_unobservable() -> None:
    health = lc.unobservable(OSError("no route"))
    assert (health.status, lc.health_reason(health.conditions)) == (
        lc.UNKNOWN, {"api": "not observable: no route"})


def test_health_change_names_the_failing_nodes() -> None:
    sick = lc.assess(None, [make_node("m-1"), make_node("w-1", False, "engine down"),
                            make_node("w-2", False)])
    assert lc.health_change(lc.HEALTHY, sick) == \
        "UNHEALTHY: api: no api address; w-1: engine down; w-2: False"
    well = lc.assess("tcp://x", [make_node()])
    assert lc.health_change(lc.UNHEALTHY, well) == "HEALTHY: every node Ready"


@pytest.mark.parametrize(("before", "after"), [
    (None, lc.HEALTHY), (lc.HEALTHY, lc.HEALTHY), (lc.HEALTHY, lc.UNKNOWN)])
def test_no_health_event(before: str | None, after: str) -> None:
    assert lc.health_change(before, lc.Health(after, ())) is None


def test_conditions_round_trip_through_json() -> None:
    conditions = (lc.api_health("tcp://x"), make_node("w-1", False, "down"),
                  *lc.free_form({"note": "checked by hand"}))
    assert lc.conditions_from_json(lc.conditions_to_json(conditions)) == conditions
    assert lc.conditions_from_json(None) == ()


def test_a_free_form_reason_renders_as_given() -> None:
    given = {"api": "down", "w-1.Ready": "maybe", "api2": "ok"}
    assert lc.health_reason(lc.free_form(given)) == given
