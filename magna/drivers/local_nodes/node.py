"""What a driver may do with one node, whatever the node is made of: the ``Node`` interface, and
``LocalNode``, its first implementation (a network namespace with its own dockerd on this host).

A COE driver (the default driver today, a Kubernetes one next) builds its cluster from nodes
through this interface: start and stop the node's engine, ask whether the engine answers, run a
command on the node, place a file on it, and know the address where the node (and its engine's
API) is reached and the hostname it gives itself. A node
on another machine, reached over SSH, would implement the same five abilities with ``ssh`` and
``scp`` (and ``systemctl`` for the engine); nothing in a COE driver would change for it.

What is particular to local nodes (the engine's ``EngineSpec``, the namespace and veth of
``NodeNetwork``, the cgroup path, the slot) stays on ``LocalNode`` for the node layer's own use:
building, rolling restarts that compare configuration hashes, healing and teardown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from magna.common import files
from magna.drivers.catalog import Flavor
from magna.drivers.local_nodes import engine, host, network, pki


@runtime_checkable
class Node(Protocol):
    """One node of a cluster with one container engine, as a COE driver sees it."""

    @property
    def name(self) -> str:
        """``<nodegroup>-<i>``, unique in the cluster."""

    @property
    def role(self) -> str:
        """``master`` or ``worker`` (the nodegroup's role)."""

    @property
    def address(self) -> str:
        """The IP address where other nodes, the host and the engine's API reach the node."""

    @property
    def hostname(self) -> str:
        """The name the node gives itself (and its orchestrator lists it by)."""

    def start_engine(self) -> int:
        """Start the node's engine with its current configuration; return its process id."""

    def stop_engine(self, timeout: float) -> None:
        """Stop the engine (gracefully for up to ``timeout`` seconds) and what is left of it."""

    def answers(self) -> bool:
        """Whether the node's engine answers now (a ping, never raising)."""

    def run(self, *argv: str) -> str:
        """Run a command on the node (in its network); its stdout, or ``CommandFailed``."""

    def place(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write a file at ``path`` relative to the node's own directory."""


@dataclass(frozen=True)
class LocalNode:
    """One planned node on this host: where it lives, what it is called, and its engine."""

    name: str
    nodegroup: str
    role: str
    slot: int
    address: str
    engine: engine.EngineSpec
    net: network.NodeNetwork
    flavor: Flavor | None = None

    @property
    def hostname(self) -> str:
        return self.engine.hostname

    def wanted_hash(self) -> str:
        """What the engine must have started with (configuration, and its certificates when
        it serves TCP: an engine on its unix socket only uses none)."""
        certs = pki.server_files(self.engine.node_dir).digest() if self.engine.tcp else ""
        return engine.desired_hash(self.engine, certs)

    def start_engine(self) -> int:
        return engine.start(self.engine, self.wanted_hash())

    def stop_engine(self, timeout: float) -> None:
        engine.stop(self.engine, timeout)
        engine.clear_remains(self.engine)

    def answers(self) -> bool:
        return engine.ping(self.engine)

    def run(self, *argv: str) -> str:
        # NOTE: nsenter rather than ``ip netns exec``, which remounts /sys (see engine.py).
        return host.run("nsenter", f"--net={os.path.join(network.NS_DIR, self.net.netns)}",
                        *argv)

    def place(self, path: str, data: bytes, mode: int = 0o644) -> None:
        target = os.path.normpath(os.path.join(self.engine.node_dir, path))
        if os.path.isabs(path) or not target.startswith(self.engine.node_dir + os.sep):
            raise ValueError(f"{path} is not a path inside the node")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        files.replace(target, data, mode)
