"""Users' pods, replication controllers and services, carried to a cluster's API server.

Magna stores nothing of these objects: the cluster's API server is their only store, so what a
user reads back is what Kubernetes says. The user's manifest text (YAML or JSON) is parsed here
into exactly one object of the kind the endpoint serves, and the text itself rides on the object
in the ``magna.openstack.org/manifest`` annotation, so ``show`` can give back what was written
(comments and key order included), also to another API process.

    text --parse()--> one object of ``kind`` + annotation --KubeAPI--> the API server

``ThroughKubeAPI`` is the ``KubernetesObjects`` ability on top of these functions for any
driver that can say how to reach a cluster's API server (``kube_api_for``).

Every failure leaves as the error taxonomy (``answered``): the API server's refusal (an invalid
object, a pod security policy) is ``Invalid`` with its own message, a missing object
``NotFound``, an existing one ``Conflict``, no answer ``TemporaryFailure``.
"""

from __future__ import annotations

import abc
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import yaml

from magna.common.exceptions import Conflict, Invalid, NotFound, TemporaryFailure
from magna.domain import kube_objects
from magna.drivers.base import KubePlace, KubernetesObjects
from magna.drivers.local_kubernetes import kinds
from magna.drivers.local_kubernetes.kubeapi import Access, KubeAPI, KubeAPIError, KubeUnreachable
from magna.drivers.local_nodes import pki

MANIFEST_ANNOTATION = kube_objects.MANIFEST_ANNOTATION
# NOTE: Kubernetes caps an object's annotations at 256 KiB in all; the text must fit beside
# whatever the manifest annotates itself.
MAX_MANIFEST = 128 * 1024
SERVED = ("Pod", "ReplicationController", "Service")


def access_of(place: KubePlace, cluster_dir: str) -> Access:
    """The cluster's API server with the node layer's admin client certificate."""
    if place.tls_disabled:
        raise Invalid("A Kubernetes cluster needs TLS; this cluster's template disables it.")
    if not place.api_address:
        raise Conflict("The cluster has no API address yet.")
    files = pki.client_files(cluster_dir)
    return Access(server=place.api_address, ca_file=files.ca, cert_file=files.cert,
                  key_file=files.key)


def parse(text: str, kind: str) -> dict[str, Any]:
    """The one object of ``kind`` that ``text`` describes, carrying ``text`` as annotation."""
    if len(text.encode()) > MAX_MANIFEST:
        raise Invalid(f"The manifest is larger than {MAX_MANIFEST // 1024} KiB.")
    documents = _documents(text)
    if len(documents) != 1:
        raise Invalid(f"The manifest holds {len(documents)} documents; give exactly one "
                      f"{kind}.")
    found = documents[0]
    if not isinstance(found, dict):
        raise Invalid(f"The manifest is not an object but {type(found).__name__}.")
    _check_kind(found, kind)
    metadata = _checked_metadata(found)
    annotations = metadata.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise Invalid("metadata.annotations of the manifest is not a mapping.")
    metadata["annotations"] = {**annotations, MANIFEST_ANNOTATION: text}
    return {**found, "metadata": metadata}


def _documents(text: str) -> list[Any]:
    try:
        # NOTE: aliases are refused: a few lines of them expand into gigabytes of JSON.
        if any(isinstance(event, yaml.AliasEvent)
               for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise Invalid("The manifest uses YAML aliases (*name); write the values out.")
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise Invalid(f"The manifest is neither YAML nor JSON: {_first_line(exc)}") from None
    try:
        json.dumps(documents)
    except (TypeError, ValueError):
        raise Invalid("The manifest holds values JSON cannot carry (such as an unquoted date or "
                      "a non-string key); quote them.") from None
    return documents


def _first_line(error: yaml.YAMLError) -> str:
    """Where and what the parser found wrong, in one line."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem and error.problem_mark:
        mark = error.problem_mark
        return f"{error.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(error).split())


def _check_kind(found: dict[str, Any], kind: str) -> None:
    given = found.get("kind")
    if given != kind:
        said = f"describes a {given}" if given else "names no kind"
        raise Invalid(f"The manifest {said}; this takes a {kind}.")
    version = found.get("apiVersion", kinds.kind_of(kind).api_version)
    if version != kinds.kind_of(kind).api_version:
        raise Invalid(f"apiVersion {version} is not served for a {kind}; use "
                      f"{kinds.kind_of(kind).api_version}.")


def _checked_metadata(found: dict[str, Any]) -> dict[str, Any]:
    metadata = found.get("metadata")
    if not isinstance(metadata, dict):
        raise Invalid("The manifest has no metadata mapping.")
    if not isinstance(metadata.get("name"), str) or not metadata["name"]:
        raise Invalid("The manifest's metadata.name is missing; Magna names objects as "
                      "Kubernetes does, by the name in the manifest.")
    namespace = metadata.get("namespace", kinds.DEFAULT_NAMESPACE)
    if not isinstance(namespace, str) or not namespace:
        raise Invalid("The manifest's metadata.namespace is not a name.")
    return dict(metadata)


@contextlib.contextmanager
def answered(what: str) -> Iterator[None]:
    """The API server's answers as the error taxonomy (``what`` names the object)."""
    try:
        yield
    except KubeUnreachable as exc:
        raise TemporaryFailure(f"The cluster's API server does not answer: {exc}") from None
    except KubeAPIError as exc:
        if exc.status == 404:
            raise NotFound(f"{what} could not be found.") from None
        if exc.status == 409:
            raise Conflict(f"The cluster's API server: {exc.message}") from None
        if exc.status == 429 or exc.status >= 500:
            raise TemporaryFailure(f"The cluster's API server: {exc.message}") from None
        raise Invalid(f"The cluster's API server refused it: {exc.message}") from None


def _what(kind: str, name: str, namespace: str) -> str:
    return f"{kind} {name} in namespace {namespace}"


def create(api: KubeAPI, kind: str, text: str) -> dict[str, Any]:
    manifest = parse(text, kind)
    metadata = manifest["metadata"]
    with answered(_what(kind, metadata["name"], namespace_of(manifest))):
        return api.create(manifest)


def listing(api: KubeAPI, kind: str, namespace: str | None) -> list[dict[str, Any]]:
    """Objects of ``kind`` in ``namespace``, every namespace's when None."""
    found = kinds.kind_of(kind)
    path = kinds.collection_path(kind, namespace=namespace) if namespace else \
        f"{kinds.group_root(found.api_version)}/{found.plural}"
    with answered(f"Namespace {namespace}"):
        items = api.get(path)["items"]
    # NOTE: list items carry no kind; the documents are shaped by kind elsewhere.
    return [{"kind": kind, **item} for item in items]


def get(api: KubeAPI, kind: str, name: str, namespace: str) -> dict[str, Any]:
    with answered(_what(kind, name, namespace)):
        return api.get(kinds.object_path(kind, name, namespace=namespace))


def replace(api: KubeAPI, kind: str, name: str, namespace: str, text: str) -> dict[str, Any]:
    """Replace the object with ``text``, which must name the same object."""
    manifest = parse(text, kind)
    if (manifest["metadata"]["name"], namespace_of(manifest)) != (name, namespace):
        raise Invalid(f"The new manifest names {kind} {manifest['metadata']['name']} in "
                      f"namespace {namespace_of(manifest)}, not {name} in {namespace}.")
    with answered(_what(kind, name, namespace)):
        return api.replace(manifest)


def scale(api: KubeAPI, kind: str, name: str, namespace: str, replicas: int) -> dict[str, Any]:
    if kind != "ReplicationController":
        raise Invalid(f"A {kind} has no replicas to set.")
    if replicas < 0:
        raise Invalid(f"replicas must be 0 or more, not {replicas}.")
    with answered(_what(kind, name, namespace)):
        return api.merge_patch(kinds.object_path(kind, name, namespace=namespace),
                               {"spec": {"replicas": replicas}})


def delete(api: KubeAPI, kind: str, name: str, namespace: str) -> None:
    with answered(_what(kind, name, namespace)):
        gone = api.delete(kind, name, namespace=namespace)
    if not gone:
        raise NotFound(f"{_what(kind, name, namespace)} could not be found.")


def namespace_of(manifest: dict[str, Any]) -> str:
    return str(manifest["metadata"].get("namespace") or kinds.DEFAULT_NAMESPACE)


class ThroughKubeAPI(KubernetesObjects):
    """The ``KubernetesObjects`` ability for a driver that gives a client of the cluster's API
    server (``kube_api_for``, closed after each call)."""

    @abc.abstractmethod
    def kube_api_for(self, place: KubePlace) -> KubeAPI:
        """A client of the cluster's API server, authenticated as its administrator."""

    def create_object(self, place: KubePlace, kind: str, manifest: str) -> dict[str, Any]:
        with self.kube_api_for(place) as api:
            return create(api, kind, manifest)

    def list_objects(self, place: KubePlace, kind: str,
                     namespace: str | None) -> list[dict[str, Any]]:
        with self.kube_api_for(place) as api:
            return listing(api, kind, namespace)

    def get_object(self, place: KubePlace, kind: str, name: str,
                   namespace: str) -> dict[str, Any]:
        with self.kube_api_for(place) as api:
            return get(api, kind, name, namespace)

    def replace_object(self, place: KubePlace, kind: str, name: str, namespace: str,
                       manifest: str) -> dict[str, Any]:
        with self.kube_api_for(place) as api:
            return replace(api, kind, name, namespace, manifest)

    def scale_object(self, place: KubePlace, kind: str, name: str, namespace: str,
                     replicas: int) -> dict[str, Any]:
        with self.kube_api_for(place) as api:
            return scale(api, kind, name, namespace, replicas)

    def delete_object(self, place: KubePlace, kind: str, name: str, namespace: str) -> None:
        with self.kube_api_for(place) as api:
            delete(api, kind, name, namespace)
