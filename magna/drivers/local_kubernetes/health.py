"""A Kubernetes cluster's node health, from the API server's Node objects: pure.

The driver looks (``KubeAPI.nodes()`` through any API server that answers, and ``healthy()`` of
each master's own API server) and hands what it saw to ``node_statuses``, which answers one
``NodeStatus`` per node the spec expects, with the condition ``Ready`` as Magnum reports it
(``"<node>.Ready": "True"`` or ``"False: <reason>"``):

- healthy when the node's ``Ready`` condition is ``True``;
- unhealthy with that condition's reason and message when it is ``False`` or ``Unknown`` (the
  kubelet stopped reporting), and "not registered with the API server" when there is no Node;
- for a master whose own API server does not answer, also "API server not answering": a dead
  API server behind a load balancer leaves the cluster answering, and the health must name it;
- when no API server answers at all, every node is unhealthy with "no API server answers", as
  swarm-mode reports "no manager answers": nobody can use the cluster, and healing should act.

NOTE: the API server's state is folded into each master's ``Ready`` entry rather than given as a
second entry (condition ``api``) per master: ``Observed.addresses`` and the repair code read
``Observed.nodes`` as one entry per node, and swarm-mode folds its manager checks the same way.

A registered node is matched by the name the kubelet registers (its ``--hostname-override``, the
node's hostname), or else by the node's own name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from magna.drivers.base import NodeStatus

NOT_REGISTERED = "not registered with the API server"
NO_API = "no API server answers"
API_DOWN = "API server not answering"


class ExpectedNode(NamedTuple):
    name: str
    nodegroup: str
    role: str
    address: str | None
    hostname: str


def node_statuses(nodes_json: Sequence[Mapping[str, Any]] | None,
                  expected: Iterable[ExpectedNode | tuple[str, str, str, str | None, str]],
                  api_answers: Mapping[str, bool] | None = None) -> list[NodeStatus]:
    """Each expected node's health; ``nodes_json`` is None when no API server answered,
    ``api_answers`` says, per master name, whether its own API server answered."""
    registered = {str(node.get("metadata", {}).get("name", "")): node
                  for node in nodes_json or ()}
    statuses = []
    for entry in expected:
        node = ExpectedNode(*entry)
        problems = [] if (api_answers or {}).get(node.name, True) else [API_DOWN]
        problems += problems_of(node, registered if nodes_json is not None else None)
        statuses.append(NodeStatus(name=node.name, nodegroup=node.nodegroup, role=node.role,
                                   address=node.address, healthy=not problems,
                                   reason="; ".join(problems)))
    return statuses


def problems_of(node: ExpectedNode,
                registered: Mapping[str, Mapping[str, Any]] | None) -> list[str]:
    """Why ``node`` is not Ready (none: it is); ``registered`` None: nobody could be asked."""
    if registered is None:
        return [NO_API]
    found = registered.get(node.hostname) or registered.get(node.name)
    if found is None:
        return [NOT_REGISTERED]
    ready = ready_condition(found)
    if ready is None:
        return ["no Ready condition reported yet"]
    if ready.get("status") == "True":
        return []
    return [_explained(ready)]


def ready_condition(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    conditions = node.get("status", {}).get("conditions") or []
    return next((entry for entry in conditions if entry.get("type") == "Ready"), None)


def _explained(condition: Mapping[str, Any]) -> str:
    words = [str(condition.get(key) or "").strip() for key in ("reason", "message")]
    said = ": ".join(word for word in words if word)
    return f"Ready is {condition.get('status', 'Unknown')}" + (f" ({said})" if said else "")


def strays(nodes_json: Sequence[Mapping[str, Any]],
           expected: Iterable[ExpectedNode | tuple[str, str, str, str | None, str]]) -> list[str]:
    """Names of registered nodes the spec no longer expects (left over from a removal)."""
    known = {name for entry in expected for name in (ExpectedNode(*entry).name,
                                                     ExpectedNode(*entry).hostname)}
    return [name for node in nodes_json
            if (name := str(node.get("metadata", {}).get("name", ""))) not in known]
