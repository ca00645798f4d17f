"""The driver's node statuses become the cluster's structured health, unchanged in meaning."""

from __future__ import annotations

from magna.conductor.reconciler import health_of
from magna.domain import clusters as lc
from magna.drivers.base import NodeStatus, Observed


def make_status(name: str, healthy: bool | None, reason: str = "") -> NodeStatus:
    return NodeStatus(name=name, nodegroup="default-worker", role="worker", address=None,
                      healthy=healthy, reason=reason)


def test_node_statuses_carry_their_condition() -> None:
    observed = Observed(converged=True, api_address="tcp://10.0.0.2:2375",
                        nodes=[make_status("w-1", True), make_status("w-2", False, "down")])
    health = health_of(observed)
    assert health == lc.Health(lc.UNHEALTHY, (
        lc.NodeHealth("api", None, True, ""), lc.NodeHealth("w-1", "Ready", True, ""),
        lc.NodeHealth("w-2", "Ready", False, "down")))
    assert lc.health_reason(health.conditions) == {"api": "ok", "w-1.Ready": "True",
                                                   "w-2.Ready": "False: down"}
