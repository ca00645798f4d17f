"""Pods, replication controllers and services of a Kubernetes cluster, answered at once.

Unlike containers, these objects have no rows: the cluster's API server stores them and says
their state, so each call authorizes, finds the cluster the caller may see (another project's
is a 404, as for clusters), checks that it is a settled Kubernetes cluster, and hands the call
to the driver's ``KubernetesObjects`` ability within the request. The database is read, never
written, and no transaction is held while the cluster answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from magna.common.context import RequestContext
from magna.common.exceptions import Conflict, Invalid
from magna.db import models, repository
from magna.domain import clusters as lifecycle
from magna.domain.kube_objects import Change, Resource
from magna.drivers.base import KubePlace, KubernetesObjects
from magna.services import Services, target_of
from magna.services import clusters as cluster_service

T = TypeVar("T")
COE = "kubernetes"
# NOTE: an update in progress is usually a scale: the API server answers all along.
SERVING = lifecycle.UPDATABLE | {lifecycle.UPDATE_IN_PROGRESS}


@dataclass(frozen=True)
class Target:
    """The cluster a call is about, and the ability that reaches its API server."""

    cluster_uuid: str
    driver: KubernetesObjects
    place: KubePlace


def create(svc: Services, ctx: RequestContext, resource: Resource, cluster: str,
           manifest: str) -> tuple[str, dict[str, Any]]:
    """Create the object; the cluster's UUID and the object as stored."""
    return _call(svc, ctx, resource, cluster, "create",
                 lambda t: t.driver.create_object(t.place, resource.kind, manifest))


def list_(svc: Services, ctx: RequestContext, resource: Resource, cluster: str,
          namespace: str | None) -> tuple[str, list[dict[str, Any]]]:
    return _call(svc, ctx, resource, cluster, "get_all",
                 lambda t: t.driver.list_objects(t.place, resource.kind, namespace))


def get(svc: Services, ctx: RequestContext, resource: Resource, cluster: str, name: str,
        namespace: str) -> tuple[str, dict[str, Any]]:
    return _call(svc, ctx, resource, cluster, "get",
                 lambda t: t.driver.get_object(t.place, resource.kind, name, namespace))


def update(svc: Services, ctx: RequestContext, resource: Resource, cluster: str, name: str,
           namespace: str, change: Change) -> tuple[str, dict[str, Any]]:
    """A new manifest for the object, or a replication controller's replicas."""
    def carry_out(target: Target) -> dict[str, Any]:
        if change.replicas is not None:
            return target.driver.scale_object(target.place, resource.kind, name, namespace,
                                              change.replicas)
        assert change.manifest is not None
        return target.driver.replace_object(target.place, resource.kind, name, namespace,
                                            change.manifest)

    return _call(svc, ctx, resource, cluster, "update", carry_out)


def delete(svc: Services, ctx: RequestContext, resource: Resource, cluster: str, name: str,
           namespace: str) -> None:
    _call(svc, ctx, resource, cluster, "delete",
          lambda t: t.driver.delete_object(t.place, resource.kind, name, namespace))


def _call(svc: Services, ctx: RequestContext, resource: Resource, cluster: str, action: str,
          work: Callable[[Target], T]) -> tuple[str, T]:
    target = _target(svc, ctx, resource, cluster, action)
    return target.cluster_uuid, work(target)


def _target(svc: Services, ctx: RequestContext, resource: Resource, ident: str,
            action: str) -> Target:
    with svc.reading() as session:
        cluster = cluster_service.load(session, svc, ctx, ident, "get_one")
        svc.authz.authorize(ctx, f"{resource.policy}:{action}", target_of(cluster))
        template = repository.get_template_by_uuid(session, cluster.cluster_template_id)
        driver = _check(svc, cluster, template, resource)
        return Target(cluster.uuid, driver, KubePlace(cluster_uuid=cluster.uuid,
                                                      api_address=cluster.api_address,
                                                      tls_disabled=template.tls_disabled))


def _check(svc: Services, cluster: models.Cluster, template: models.ClusterTemplate,
           resource: Resource) -> KubernetesObjects:
    name = cluster.name or cluster.uuid
    if template.coe != COE:
        raise Invalid(f"Cluster {name} is a {template.coe} cluster; pods, replication "
                      "controllers and services need a Kubernetes cluster.")
    driver = cluster_service.driver_for(svc, template)
    if not isinstance(driver, KubernetesObjects):
        raise Invalid(f"The driver of cluster {name} cannot serve {resource.collection}.")
    if cluster.desired_state == lifecycle.ABSENT or cluster.status not in SERVING:
        raise Conflict(f"Cluster {name} is {cluster.status}; {resource.collection} are served "
                       "only by a cluster whose status is *_COMPLETE or UPDATE_IN_PROGRESS.")
    return driver
