"""Swarm membership through the Docker SDK, over TLS with the driver's client certificate.

The first master initialises the swarm; other masters join with the manager token and workers
with the worker token, at the ``<ip>:2377`` of whichever manager answers (``find_manager``
prefers the raft leader, so a cluster whose first master is down is still managed). Every call
is bounded by the client's timeout. ``membership`` reads what an engine thinks of itself
(inactive, pending, active, error, locked); ``nodes`` is the manager's view of the whole swarm,
keyed by hostname, which is what the driver reports as per-node health.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import docker
import requests

from magna.common.exceptions import TemporaryError
from magna.drivers.local_nodes.engine import PORT
from magna.drivers.local_nodes.pki import CertFiles

SWARM_PORT = 2377
INGRESS = "ingress"  # the network of the routing mesh a swarm makes at its init
# NOTE: pinned rather than "auto" (which asks the engine before trust_env can be switched off);
# 1.41 is Docker 20.10's, and newer engines still serve it.
API_VERSION = "1.41"


@dataclass(frozen=True)
class Membership:
    state: str
    node_id: str
    manager: bool


@dataclass(frozen=True)
class SwarmNode:
    hostname: str
    node_id: str
    role: str
    state: str
    message: str
    availability: str
    reachability: str = ""  # a manager's raft membership: reachable, unreachable, unknown
    leader: bool = False
    address: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.availability == "active"

    @property
    def manager(self) -> bool:
        return self.role == "manager"


def connect(address: str, files: CertFiles | None, timeout: float) -> docker.DockerClient:
    """A client for one engine: mutual TLS with ``files``, or plain TCP when ``files`` is None
    (a template with ``tls_disabled``)."""
    tls = None if files is None else docker.tls.TLSConfig(
        client_cert=(files.cert, files.key), ca_cert=files.ca, verify=True)
    client = docker.DockerClient(base_url=f"tcp://{address}:{PORT}", tls=tls or False,
                                 version=API_VERSION, timeout=int(timeout))
    # NOTE: requests would otherwise replace our CA with $REQUESTS_CA_BUNDLE and send these
    # local connections through $HTTPS_PROXY.
    client.api.trust_env = False
    return client


def membership(client: docker.DockerClient) -> Membership:
    info: dict[str, Any] = client.info()["Swarm"]
    return Membership(state=str(info.get("LocalNodeState", "")),
                      node_id=str(info.get("NodeID", "")),
                      manager=bool(info.get("ControlAvailable", False)))


def versions(client: docker.DockerClient) -> str:
    return str(client.version().get("Version", ""))


def init(client: docker.DockerClient, address: str) -> None:
    client.swarm.init(advertise_addr=address, listen_addr=f"{address}:{SWARM_PORT}")


def drop_ingress(client: docker.DockerClient) -> bool:
    """Remove the swarm's ingress network unless a service publishes through it; True when
    the swarm has none left.

    For a host without IPVS: the routing mesh that network serves cannot work there, and every
    node that joins a swarm having it builds a sandbox for it (a namespace, a VXLAN device, a
    bridge, iptables rules) and gossips its entries with every other node: a third of the
    nodes' CPU while a 1+29 cluster forms (bench/notes.md). Without it, a service that
    publishes in ingress mode is refused by the swarm with a message saying so."""
    for network in client.api.networks(names=[INGRESS]):
        if network.get("Ingress"):
            try:
                client.api.remove_network(network["Id"])
            except docker.errors.APIError:
                return False  # NOTE: in use (a swarm made before); it stays as it is
    return True


def tokens(client: docker.DockerClient) -> dict[str, str]:
    client.swarm.reload()
    found: dict[str, str] = client.swarm.attrs["JoinTokens"]
    return found


def join(client: docker.DockerClient, *, address: str, manager_address: str,
         token: str) -> None:
    client.swarm.join(remote_addrs=[f"{manager_address}:{SWARM_PORT}"], join_token=token,
                      advertise_addr=address, listen_addr=f"{address}:{SWARM_PORT}")


def join_failed(node: str, manager_address: str, why: str) -> TemporaryError:
    """A join that did not (yet) succeed: the manager unreachable on 2377, a wrong token. The
    next pass tries again; the message is what the cluster's events and a timeout report."""
    return TemporaryError(f"Node {node} failed to join the swarm at "
                          f"{manager_address}:{SWARM_PORT}: {why}", delay=5.0)


def leave(client: docker.DockerClient) -> None:
    client.swarm.leave(force=True)


def nodes(client: docker.DockerClient) -> dict[str, SwarmNode]:
    """The manager's view of the swarm, by node id (a recreated node keeps its hostname but
    gets a new id; the old entry stays ``down`` until removed)."""
    found = {}
    for node in client.nodes.list():
        attrs: dict[str, Any] = node.attrs
        status = attrs.get("Status", {})
        spec = attrs.get("Spec", {})
        node_id = str(attrs.get("ID", ""))
        manager = attrs.get("ManagerStatus") or {}
        found[node_id] = SwarmNode(hostname=str(attrs.get("Description", {}).get("Hostname", "")),
                                   node_id=node_id, role=str(spec.get("Role", "")),
                                   state=str(status.get("State", "")),
                                   message=str(status.get("Message", "")),
                                   availability=str(spec.get("Availability", "")),
                                   reachability=str(manager.get("Reachability", "")),
                                   leader=bool(manager.get("Leader", False)),
                                   address=_address(status, manager))
    return found


def _address(status: dict[str, Any], manager: dict[str, Any]) -> str:
    address = str(status.get("Addr", ""))
    if address in ("", "0.0.0.0"):  # NOTE: some engines report this for managers
        address = str(manager.get("Addr", "")).rsplit(":", 1)[0]
    return address


def set_role(client: docker.DockerClient, hostname: str, *, role: str = "",
             availability: str = "") -> bool:
    """Change the role (demote: ``worker``) or availability (``drain``) of the swarm nodes
    named ``hostname``; True if one needed the change."""
    changed = False
    for node in client.nodes.list():
        attrs: dict[str, Any] = node.attrs
        if attrs.get("Description", {}).get("Hostname") != hostname:
            continue
        spec: dict[str, Any] = dict(attrs.get("Spec", {}))
        wanted = {**spec, **({"Role": role} if role else {}),
                  **({"Availability": availability} if availability else {})}
        if wanted != spec:
            node.update(wanted)
            changed = True
    return changed


def running_tasks(client: docker.DockerClient, node_id: str) -> int:
    """Tasks the swarm still runs (or is starting) on a node: what draining waits for."""
    tasks = client.api.tasks(filters={"node": node_id, "desired-state": "running"})
    return len(tasks)


def forget(client: docker.DockerClient, hostname: str) -> None:
    """Remove every swarm node with ``hostname`` from the manager's list (demoting a manager
    first); the node's engine has already left or is gone."""
    for node in client.nodes.list():
        attrs: dict[str, Any] = node.attrs
        if attrs.get("Description", {}).get("Hostname") != hostname:
            continue
        spec: dict[str, Any] = dict(attrs.get("Spec", {}))
        if spec.get("Role") == "manager":
            node.update({**spec, "Role": "worker"})
        node.remove(force=True)


def find_manager(connect: Callable[[str], docker.DockerClient], addresses: Sequence[str]
                 ) -> tuple[docker.DockerClient, dict[str, SwarmNode]] | None:
    """A client for a manager that answers with a quorum behind it (the raft leader if it
    answers, else the first of ``addresses`` that does) and the swarm as it sees it; None when
    no manager among ``addresses`` can list the swarm (none reachable, or quorum lost)."""
    for address in addresses:
        found = _listing(connect, address)
        if found is None:
            continue
        client, view = found
        leader = next((n.address for n in view.values() if n.leader), "")
        if leader and leader != address and leader in addresses:
            better = _listing(connect, leader)
            if better is not None:
                client.close()
                return better
        return client, view
    return None


def _listing(connect: Callable[[str], docker.DockerClient], address: str
             ) -> tuple[docker.DockerClient, dict[str, SwarmNode]] | None:
    try:
        client = connect(address)
    except (docker.errors.DockerException, requests.RequestException):
        return None
    # NOTE: the listing alone says it: an engine that is no manager, or a manager without a
    # quorum, refuses it (503). Asking ``membership`` first cost a ``GET /info`` per call,
    # which the engine answers slowly (it runs ``runc --version`` and more each time), and
    # every pass asks for a manager four or five times.
    try:
        return client, nodes(client)
    except (docker.errors.DockerException, requests.RequestException):
        pass
    client.close()
    return None
