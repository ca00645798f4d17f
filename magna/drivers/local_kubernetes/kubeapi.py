"""A small client of one cluster's Kubernetes API server (1.20), over TLS with a client cert.

The driver needs a dozen calls: is the API server up, which version, which nodes, apply and
delete a few kinds of objects, and cordon, label, taint, drain and delete nodes. This module makes
them with ``requests`` (see docs/decisions.md for why not the ``kubernetes`` client): JSON in,
JSON out, the paths from ``kinds.py``, the label and taint bookkeeping from ``node_profile.py``,
the drain's choices from ``eviction.py``.

Every failure is one of two errors, so a caller never sees a transport library's exceptions:

- ``KubeUnreachable``: no answer (connection refused or reset, TLS failure, timeout);
- ``KubeAPIError(status, message)``: the API server answered with an error; ``message`` is
  its ``Status`` message (what ``kubectl`` would print).

``DrainTimedOut`` (also a ``KubeError``) says which pods were still on a node at a drain's
deadline. ``healthy()`` is the one call that never raises.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import requests

from magna.drivers.local_kubernetes import eviction, kinds, node_profile

MERGE_PATCH = "application/merge-patch+json"
# NOTE: a replace (or a node's profile) races with controllers writing the same object; each
# 409 Conflict means "read again and retry", a few times at most.
WRITE_ATTEMPTS = 5
DRAIN_POLL = 0.5


class KubeError(Exception):
    """Base of what this client raises."""


class KubeUnreachable(KubeError):
    """The API server did not answer."""


class KubeAPIError(KubeError):
    """The API server answered with an error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class DrainTimedOut(KubeError):
    """Pods were still on the node when the drain's time was up."""

    def __init__(self, node: str, pods: Sequence[eviction.PodRef]) -> None:
        names = ", ".join(map(str, pods))
        super().__init__(f"drain of node {node} timed out; pods still there: {names}")
        self.node = node
        self.pods = list(pods)


@dataclass(frozen=True)
class Access:
    """Where an API server is and how to authenticate to it (PEM files)."""

    server: str  # https://host:port
    ca_file: str
    cert_file: str
    key_file: str
    timeout: float = 10.0


class KubeAPI:
    """One API server's client; ``close`` (or ``with``) releases its connections."""

    def __init__(self, access: Access) -> None:
        self.access = access
        self._session = requests.Session()
        # NOTE: not the environment's proxies or CA bundle (REQUESTS_CA_BUNDLE would override
        # a session's ``verify``): the cluster's CA alone, and straight to its API server.
        self._session.trust_env = False

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> KubeAPI:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Whether ``/healthz`` answers ``ok``; never raises."""
        try:
            response = self._send("GET", "/healthz")
        except KubeError:
            return False
        return response.status_code == 200 and response.text.strip() == "ok"

    def version(self) -> str:
        """The API server's ``gitVersion``, such as ``v1.20.2``."""
        return str(self.get("/version")["gitVersion"])

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/nodes")["items"])

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    # -- writing ---------------------------------------------------------------------------

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Create the object, or replace it if it exists; answers the object as stored."""
        complete = completed(manifest)
        metadata = complete["metadata"]
        collection = kinds.collection_path(complete["kind"], namespace=metadata.get("namespace"),
                                           api_version=complete["apiVersion"])
        try:
            return self._call("POST", collection, body=complete)
        except KubeAPIError as error:
            if error.status != 409:
                raise
        return self._replace(complete, f"{collection}/{metadata['name']}")

    def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Create the object (a 409 ``KubeAPIError`` when it exists); the object as stored."""
        complete = completed(manifest)
        collection = kinds.collection_path(complete["kind"],
                                           namespace=complete["metadata"].get("namespace"),
                                           api_version=complete["apiVersion"])
        return self._call("POST", collection, body=complete)

    def replace(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the existing object (404 when there is none), keeping what the cluster
        allocated (``replacement``)."""
        complete = completed(manifest)
        metadata = complete["metadata"]
        return self._replace(complete, kinds.object_path(
            complete["kind"], metadata["name"], namespace=metadata.get("namespace"),
            api_version=complete["apiVersion"]))

    def merge_patch(self, path: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON merge patch of the object at ``path``; the object as stored."""
        return self._call("PATCH", path, body=patch, content_type=MERGE_PATCH)

    def _replace(self, manifest: Mapping[str, Any], path: str) -> dict[str, Any]:
        for _ in range(WRITE_ATTEMPTS):
            current = self.get(path)
            try:
                return self._call("PUT", path, body=replacement(manifest, current))
            except KubeAPIError as error:
                if error.status != 409:
                    raise
        raise KubeAPIError(409, f"{path} kept changing while it was being replaced")

    def delete(self, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete an object; False when it was not there."""
        path = kinds.object_path(kind, name, namespace=namespace)
        try:
            self._call("DELETE", path, params={"propagationPolicy": "Background"})
        except KubeAPIError as error:
            if error.status == 404:
                return False
            raise
        return True

    # -- nodes -----------------------------------------------------------------------------

    def cordon(self, node: str) -> None:
        """Mark the node unschedulable (pods already there stay)."""
        self._call("PATCH", kinds.object_path("Node", node),
                   body={"spec": {"unschedulable": True}}, content_type=MERGE_PATCH)

    def uncordon(self, node: str) -> None:
        """Let the scheduler place pods on the node again."""
        self._call("PATCH", kinds.object_path("Node", node),
                   body={"spec": {"unschedulable": False}}, content_type=MERGE_PATCH)

    def set_node_profile(self, node: str, labels: Mapping[str, str],
                         taints: Sequence[Mapping[str, Any]]) -> bool:
        """Give the node exactly the labels and taints Magna wants, leaving others' alone
        (``node_profile.py``); True when something was written."""
        path = kinds.object_path("Node", node)
        for _ in range(WRITE_ATTEMPTS):
            current = self.get(path)
            profile = node_profile.desired(current, labels, taints)
            if node_profile.carries(current, profile):
                return False
            try:
                self._call("PUT", path, body=node_profile.applied(current, profile))
                return True
            except KubeAPIError as error:
                if error.status != 409:
                    raise
        raise KubeAPIError(409, f"node {node} kept changing while its labels were being set")

    def drain(self, node: str, timeout: float) -> None:
        """Cordon the node, evict its pods (``eviction.py``) and wait until they are gone;
        ``DrainTimedOut`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        self.cordon(node)
        while True:
            remaining = eviction.evictable(self._pods_on(node))
            if not remaining:
                return
            for pod in remaining:
                if not pod.terminating:
                    self._evict(pod)
            if time.monotonic() >= deadline:
                raise DrainTimedOut(node, remaining)
            time.sleep(DRAIN_POLL)

    def _pods_on(self, node: str) -> list[dict[str, Any]]:
        found = self.get("/api/v1/pods", params={"fieldSelector": f"spec.nodeName={node}"})
        return list(found["items"])

    def _evict(self, pod: eviction.PodRef) -> None:
        path = f"{kinds.object_path('Pod', pod.name, namespace=pod.namespace)}/eviction"
        try:
            self._call("POST", path, body=eviction.eviction(pod))
        except KubeAPIError as error:
            # NOTE: 429: a disruption budget says not now (try again next round); 404: gone.
            if error.status not in (404, 429):
                raise

    def delete_node(self, node: str) -> bool:
        return self.delete("Node", node)

    # -- transport -------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
              params: Mapping[str, str] | None = None,
              content_type: str = "application/json") -> dict[str, Any]:
        response = self._send(method, path, body=body, params=params, content_type=content_type)
        if not response.ok:
            raise KubeAPIError(response.status_code, status_message(response))
        try:
            answer = response.json()
        except ValueError:
            raise KubeAPIError(response.status_code,
                               f"not JSON: {response.text[:200]!r}") from None
        if not isinstance(answer, dict):
            raise KubeAPIError(response.status_code, f"not an object: {response.text[:200]!r}")
        return answer

    def _send(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
              params: Mapping[str, str] | None = None,
              content_type: str = "application/json") -> requests.Response:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            return self._session.request(
                method, self.access.server.rstrip("/") + path, json=body, params=params,
                headers=headers, timeout=self.access.timeout, verify=self.access.ca_file,
                cert=(self.access.cert_file, self.access.key_file))
        # NOTE: OSError: requests raises it as is for an unreadable certificate file.
        except (requests.RequestException, OSError) as error:
            raise KubeUnreachable(f"{self.access.server}: {error}") from error


def status_message(response: requests.Response) -> str:
    """The ``message`` of the API server's ``Status`` answer, else the start of the body."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("message"):
        return str(answer["message"])
    return response.text[:200] or response.reason or f"HTTP {response.status_code}"


def completed(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """``manifest`` with the ``apiVersion`` its kind defaults to when it names none."""
    kind = kinds.kind_of(str(manifest["kind"]))
    return {**manifest, "apiVersion": manifest.get("apiVersion") or kind.api_version,
            "metadata": dict(manifest["metadata"])}


# Fields the cluster fills in after a create, by kind: (where, names). A replace that dropped
# them would be refused (a Service's cluster IPs are immutable) or undo a controller's work (the
# token controller would mint a new token Secret for a ServiceAccount on every apply).
ALLOCATED: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "Service": ("spec", ("clusterIP", "clusterIPs")),
    "ServiceAccount": (None, ("secrets",)),
}


def replacement(manifest: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """What to PUT over ``current``: ``manifest`` at the current ``resourceVersion``, keeping
    what the cluster allocated and the manifest leaves to it (``ALLOCATED``)."""
    metadata = {**manifest["metadata"],
                "resourceVersion": current["metadata"]["resourceVersion"]}
    replaced = {**manifest, "metadata": metadata}
    where, names = ALLOCATED.get(str(manifest["kind"]), (None, ()))
    target = dict(replaced.get(where) or {}) if where else replaced
    source = (current.get(where) or {}) if where else current
    for name in names:
        if name not in target and name in source:
            target[name] = source[name]
    if where:
        replaced[where] = target
    return replaced
