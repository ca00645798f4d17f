"""Kubernetes objects through Magna, the pure parts: a user's manifest read into one object of
the endpoint's kind (its text kept), the documents made from API server objects, what a PATCH
asks, Kubernetes' name rules, and what ``--wait`` counts as done."""

from __future__ import annotations

import json
from typing import Any

import pytest

from magna.client import kube_waiting
from magna.common.exceptions import Invalid
from magna.domain import kube_objects as rules
from magna.drivers.local_kubernetes import objects

POD_YAML = """# the guides' redis master
apiVersion: v1
kind: Pod
metadata:
  name: redis-master
  labels: {name: redis}
spec:
  containers:
    - name: master
      image: magna/busybox:latest
"""

# -- parsing a manifest ----------------------------------------------------------------------


def test_a_yaml_manifest_becomes_its_object_carrying_the_text_unchanged() -> None:
    got = objects.parse(POD_YAML, "Pod")
    assert got["kind"] == "Pod" and got["metadata"]["name"] == "redis-master"
    assert got["metadata"]["labels"] == {"name": "redis"}
    assert got["metadata"]["annotations"] == {objects.MANIFEST_ANNOTATION: POD_YAML}
    assert got["spec"]["containers"][0]["image"] == "magna/busybox:latest"


def test_a_json_manifest_keeps_its_own_annotations_beside_the_text() -> None:
    text = json.dumps({"kind": "Service", "metadata": {"name": "web", "namespace": "t1",
                                                       "annotations": {"team": "a"}},
                       "spec": {"ports": [{"port": 80}]}})
    got = objects.parse(text, "Service")
    assert got["metadata"]["annotations"] == {"team": "a", objects.MANIFEST_ANNOTATION: text}
    assert got["metadata"]["namespace"] == "t1"
    assert objects.namespace_of(got) == "t1"


@pytest.mark.parametrize(("text", "message"), [
    ("kind: Pod\nmetadata: {name: [x\n", "neither YAML nor JSON: expected ',' or ']'"),
    ("{\"kind\": \"Pod\",", "neither YAML nor JSON"),
    ("", "holds 0 documents; give exactly one Pod"),
    (POD_YAML + "---\n" + POD_YAML, "holds 2 documents"),
    ("- a\n- b\n", "not an object but list"),
    ("just words", "not an object but str"),
    (POD_YAML.replace("kind: Pod", "kind: Service"), "describes a Service; this takes a Pod"),
    (POD_YAML.replace("kind: Pod\n", ""), "names no kind; this takes a Pod"),
    (POD_YAML.replace("apiVersion: v1", "apiVersion: v2"), "apiVersion v2 is not served"),
    ("kind: Pod\nspec: {}\n", "no metadata mapping"),
    ("kind: Pod\nmetadata: {labels: {a: b}}\n", "metadata.name is missing"),
    ("kind: Pod\nmetadata: {name: p, namespace: 3}\n", "metadata.namespace is not a name"),
    ("kind: Pod\nmetadata: {name: p, annotations: [a]}\n", "annotations of the manifest is not"),
    ("kind: Pod\nmetadata: {name: p}\nspec: {when: 2024-01-01}\n", "values JSON cannot carry"),
    ("kind: Pod\nmetadata: &m {name: p}\nspec: {x: *m}\n", "uses YAML aliases"),
])
def test_a_manifest_that_is_not_one_object_of_the_kind_is_refused(text: str,
                                                                   message: str) -> None:
    with pytest.raises(Invalid, match=message.replace("[", r"\[").replace("]", r"\]")):
        objects.parse(text, "Pod")


def test_a_manifest_too_large_for_an_annotation_is_refused() -> None:
    text = POD_YAML + "# " + "x" * objects.MAX_MANIFEST + "\n"
    with pytest.raises(Invalid, match="larger than 128 KiB"):
        objects.parse(text, "Pod")


# -- documents -------------------------------------------------------------------------------


def make_pod(**status: Any) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {
        "uid": "u-1", "name": "p", "namespace": "default", "labels": {"app": "a"},
        "creationTimestamp": "2026-12-06T07:00:00Z",
        "annotations": {rules.MANIFEST_ANNOTATION: "text"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i:1"},
                                                      {"name": "d", "image": "j:2"}]},
        "status": status}


def test_a_pods_document_is_what_the_api_server_reports() -> None:
    got = rules.document(make_pod(phase="Running", podIP="10.100.1.5", conditions=[
        {"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}]))
    assert got == {"uuid": "u-1", "name": "p", "namespace": "default", "labels": {"app": "a"},
                   "manifest": "text", "created_at": "2026-12-06T07:00:00Z",
                   "images": ["i:1", "j:2"], "status": "Running", "host": "node-1",
                   "ip": "10.100.1.5", "ready": True}


def test_a_pending_pod_is_not_ready_and_has_no_ip() -> None:
    pod = make_pod(phase="Pending", conditions=[{"type": "Ready", "status": "False"}])
    del pod["spec"]["nodeName"]
    del pod["metadata"]["annotations"]
    got = rules.document(pod)
    assert (got["status"], got["host"], got["ip"], got["ready"], got["manifest"]) == \
        ("Pending", None, None, False, None)


def test_an_rcs_document_counts_replicas_as_reported() -> None:
    rc = {"kind": "ReplicationController", "metadata": {"name": "r", "namespace": "n"},
          "spec": {"replicas": 3, "selector": {"app": "r"}, "template": {
              "spec": {"containers": [{"name": "c", "image": "i:1"}]}}},
          "status": {"replicas": 2, "readyReplicas": 1}}
    got = rules.document(rc)
    assert (got["images"], got["selector"], got["replicas"], got["current_replicas"],
            got["ready_replicas"]) == (["i:1"], {"app": "r"}, 3, 2, 1)
    rc["status"] = {}
    assert (rules.document(rc)["ready_replicas"], rules.document(rc)["current_replicas"]) == \
        (0, 0)


def test_a_services_document_has_its_cluster_ip_and_ports() -> None:
    service = {"kind": "Service", "metadata": {"name": "s"}, "spec": {
        "type": "NodePort", "clusterIP": "10.254.0.9", "selector": {"app": "r"},
        "ports": [{"port": 6379, "targetPort": 6379, "nodePort": 30001, "protocol": "TCP"}]}}
    got = rules.document(service)
    assert (got["type"], got["ip"], got["selector"]) == ("NodePort", "10.254.0.9", {"app": "r"})
    assert got["ports"] == [{"port": 6379, "targetPort": 6379, "nodePort": 30001,
                             "protocol": "TCP"}]


def test_another_kind_has_no_document() -> None:
    with pytest.raises(ValueError, match="ConfigMap"):
        rules.document({"kind": "ConfigMap", "metadata": {"name": "c"}})


# -- patches and names -----------------------------------------------------------------------

RC, POD = rules.RESOURCES["rcs"], rules.RESOURCES["pods"]


def test_an_rc_patch_sets_replicas_or_a_manifest() -> None:
    assert rules.change_of(RC, [{"op": "replace", "path": "/replicas", "value": 3}]) == \
        rules.Change(replicas=3)
    assert rules.change_of(RC, [{"op": "replace", "path": "/manifest", "value": "m"}]) == \
        rules.Change(manifest="m")
    assert rules.change_of(POD, [{"op": "replace", "path": "/manifest", "value": "m"}]) == \
        rules.Change(manifest="m")


@pytest.mark.parametrize(("resource", "patch", "message"), [
    (POD, [{"op": "replace", "path": "/replicas", "value": 3}], "only be patched with replace"),
    (RC, [{"op": "add", "path": "/replicas", "value": 3}], "not add /replicas"),
    (RC, [{"op": "replace", "path": "/labels", "value": {}}], "not replace /labels"),
    (RC, [{"op": "replace", "path": "/replicas", "value": -1}], "non-negative integer"),
    (RC, [{"op": "replace", "path": "/replicas", "value": "3"}], "non-negative integer"),
    (RC, [{"op": "replace", "path": "/replicas", "value": True}], "non-negative integer"),
    (RC, [{"op": "replace", "path": "/manifest", "value": " "}], "a manifest text is needed"),
    (RC, [], "exactly one operation"),
    (RC, [{"op": "replace", "path": "/replicas", "value": 1}] * 2, "exactly one operation"),
    (RC, {"replicas": 3}, "not a valid list"),
])
def test_other_patches_are_refused(resource: rules.Resource, patch: Any, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        rules.change_of(resource, patch)


@pytest.mark.parametrize("name", ["redis-master", "a", "web.v1", "0x"])
def test_kubernetes_names_pass(name: str) -> None:
    assert rules.checked_name(name) == name


@pytest.mark.parametrize("name", ["..", "Redis", "-a", "a-", "a/b", "a_b", "x" * 254])
def test_names_kubernetes_refuses_are_refused_before_any_path_is_built(name: str) -> None:
    with pytest.raises(Invalid, match="Invalid name"):
        rules.checked_name(name)


def test_a_namespace_defaults_to_default_and_must_be_a_dns_label() -> None:
    assert rules.checked_namespace(None) == "default"
    assert rules.checked_namespace("kube-system") == "kube-system"
    for bad in ("a.b", "..", "A", "x" * 64):
        with pytest.raises(Invalid, match="Invalid namespace"):
            rules.checked_namespace(bad)


# -- what --wait waits for -------------------------------------------------------------------


@pytest.mark.parametrize(("collection", "attrs", "expected"), [
    ("pods", {"status": "Pending"}, ("Pending", False)),
    ("pods", {"status": "Running", "host": "n1"}, ("Running on n1", True)),
    ("rcs", {"replicas": 3, "ready_replicas": 2}, ("2/3 replicas ready", False)),
    ("rcs", {"replicas": 3, "ready_replicas": 3}, ("3/3 replicas ready", True)),
    ("rcs", {"replicas": 0, "ready_replicas": 0}, ("0/0 replicas ready", True)),
    ("services", {"ip": None}, ("no IP yet", False)),
    ("services", {"ip": "10.254.0.4"}, ("IP 10.254.0.4", True)),
])
def test_wait_settles_on_what_kubernetes_reports(collection: str, attrs: dict[str, Any],
                                                  expected: tuple[str, bool]) -> None:
    assert kube_waiting.state_of(collection, attrs) == expected
