"""A local node made by hand, for unit tests of the node layer and of what reads its nodes.

``make_node`` is a worker of a made-up cluster (short id ``abcd1234``, slot 2, 10.9.0.3 on
10.9.0.0/24) whose node directory is under the test's ``tmp_path``; nothing runs and no
namespace exists. The node layer's tests (``tests/unit/test_local_nodes.py``) and the swarm
health tests (``tests/unit/test_local_swarm_ha.py``) share it.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from magna.drivers.local_nodes import engine, network
from magna.drivers.local_nodes.node import LocalNode


def make_node(tmp_path: Path, **overrides: object) -> LocalNode:
    allocation = network.Allocation(ipaddress.IPv4Network("10.9.0.0/24"))
    spec = engine.EngineSpec(node_dir=str(tmp_path / "default-worker-0"),
                             run_dir=str(tmp_path / "run" / "2"), hostname="c-default-worker-0",
                             netns="magna-abcd1234-default-worker-0", address="10.9.0.3",
                             cgroup_parent="/magna/abcd1234/default-worker-0")
    net = network.NodeNetwork(netns=spec.netns, veth="mgvabcd12342", bridge="mgbabcd1234",
                              address=allocation.address(2), allocation=allocation)
    fields: dict[str, object] = dict(name="default-worker-0", nodegroup="default-worker",
                                     role="worker", slot=2, address="10.9.0.3", engine=spec,
                                     net=net)
    fields.update(overrides)
    return LocalNode(**fields)  # type: ignore[arg-type]
