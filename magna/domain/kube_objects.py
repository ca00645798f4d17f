"""Pods, replication controllers and services as Magna shows them (``/v1/pods``, ``/v1/rcs``,
``/v1/services``): which Kubernetes kind each endpoint serves, the document made from the
object the cluster's API server answered, and what a ``PATCH`` of one asks for.

Every field of a document is read from the API server's object, never from what was asked:
a pod's ``status`` is its phase, ``ready`` its Ready condition, a service's ``ip`` the cluster
IP the API server allocated. Absent fields are None (an unscheduled pod has no ``host``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from magna.common.exceptions import Invalid
from magna.domain.patch import validate_ops

MANIFEST_ANNOTATION = "magna.openstack.org/manifest"
DEFAULT_NAMESPACE = "default"
# Kubernetes' own rules: an object's name is a DNS subdomain, a namespace a DNS label.
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Resource:
    """One endpoint: its collection (``pods``), the kind it serves, its policy and words."""

    collection: str
    kind: str
    policy: str  # the rule prefix: ``pod:create``...
    noun: str  # what messages call one


RESOURCES: dict[str, Resource] = {
    "pods": Resource("pods", "Pod", "pod", "pod"),
    "rcs": Resource("rcs", "ReplicationController", "rc", "replication controller"),
    "services": Resource("services", "Service", "service", "service"),
}


def checked_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise Invalid(f"Invalid name {name!r}: Kubernetes names are lower-case letters, digits, "
                      "'-' and '.', at most 253, starting and ending with a letter or digit.")
    return name


def checked_namespace(namespace: str | None) -> str:
    """The namespace asked for (``default`` when none), if Kubernetes could have it."""
    if namespace is None:
        return DEFAULT_NAMESPACE
    if not NAMESPACE_RE.match(namespace):
        raise Invalid(f"Invalid namespace {namespace!r}: lower-case letters, digits and '-', "
                      "at most 63, starting and ending with a letter or digit.")
    return namespace


@dataclass(frozen=True)
class Change:
    """What a PATCH asks: a new manifest, or (replication controllers) a number of replicas."""

    manifest: str | None = None
    replicas: int | None = None


def change_of(resource: Resource, patch: Any) -> Change:
    """The one change a JSON patch describes: ``replace /manifest``, and for replication
    controllers ``replace /replicas``."""
    ops = validate_ops(patch)
    paths = ("/manifest", "/replicas") if resource.kind == "ReplicationController" \
        else ("/manifest",)
    if len(ops) != 1:
        raise Invalid(f"Give exactly one operation, replace of {' or '.join(paths)}; "
                      f"got {len(ops)}.")
    op = ops[0]
    if op["op"] != "replace" or op["path"] not in paths:
        raise Invalid(f"A {resource.noun} can only be patched with replace of "
                      f"{' or '.join(paths)}, not {op['op']} {op['path']}.")
    value = op["value"]
    if op["path"] == "/replicas":
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # an integer to JSON (and to the API document)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Invalid(f"Invalid input for field/attribute replicas. Value: '{value}'. "
                          "Value should be a non-negative integer.")
        return Change(replicas=value)
    if not isinstance(value, str) or not value.strip():
        raise Invalid("Invalid input for field/attribute manifest: a manifest text is needed.")
    return Change(manifest=value)


# -- documents -------------------------------------------------------------------------------

def document(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The document of a Pod, ReplicationController or Service object (without links and
    cluster, which the API adds)."""
    shape = _SHAPES.get(str(obj.get("kind")))
    if shape is None:
        raise ValueError(f"no document for kind {obj.get('kind')!r}")
    return {**_common(obj), **shape(obj)}


def _common(obj: Mapping[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    return {"uuid": metadata.get("uid"), "name": metadata.get("name"),
            "namespace": metadata.get("namespace"), "labels": dict(metadata.get("labels") or {}),
            "manifest": annotations.get(MANIFEST_ANNOTATION),
            "created_at": metadata.get("creationTimestamp")}


def _images(pod_spec: Mapping[str, Any] | None) -> list[str]:
    containers = (pod_spec or {}).get("containers") or []
    return [str(c.get("image")) for c in containers if c.get("image")]


def _pod(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or [])
    return {"images": _images(spec), "status": status.get("phase"),
            "host": spec.get("nodeName"), "ip": status.get("podIP"), "ready": ready}


def _rc(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    return {"images": _images(template.get("spec")), "selector": dict(spec.get("selector") or {}),
            "replicas": spec.get("replicas"),
            "ready_replicas": status.get("readyReplicas") or 0,
            "current_replicas": status.get("replicas") or 0}


def _service(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    ports = [{"port": p.get("port"), "targetPort": p.get("targetPort"),
              "nodePort": p.get("nodePort"), "protocol": p.get("protocol")}
             for p in spec.get("ports") or []]
    return {"selector": dict(spec.get("selector") or {}), "type": spec.get("type"),
            "ip": spec.get("clusterIP"), "ports": ports}


_SHAPES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "Pod": _pod, "ReplicationController": _rc, "Service": _service}
