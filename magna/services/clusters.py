"""Clusters: record the user's intent (create, scale, upgrade, delete) for the conductor.

Every write stores the desired state and bumps ``generation`` in one transaction, then nudges
the conductor; the answer (202) therefore never depends on a message being delivered. Status
moves to ``*_IN_PROGRESS`` here; only the conductor, having observed the driver, moves it on.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from magna.common.context import RequestContext
from magna.common.exceptions import Invalid, NotAuthorized, NotFound
from magna.db import models, repository
from magna.db.models import utcnow
from magna.db.repository import Scope
from magna.domain import clusters as lifecycle
from magna.domain import coe as coe_rules
from magna.domain import labels as label_rules
from magna.domain import names, patch
from magna.domain.paging import Page
from magna.drivers.base import ClusterType, Driver, Settings
from magna.services import (
    Services,
    capacity,
    catalog_check,
    federations,
    pki,
    scope_for,
    settings_check,
    target_of,
)
from magna.services.readmodels import ClusterRecord, ClusterSummary, EventRecord

INTERNAL = ("/api_address", "/node_addresses", "/master_addresses", "/stack_id", "/cluster_id",
            "/ca_cert_ref", "/magnum_cert_ref", "/etcd_ca_cert_ref", "/front_proxy_ca_cert_ref",
            "/status", "/status_reason", "/coe_version", "/container_version")
PATCHABLE = {"node_count", "health_status", "health_status_reason"}
# The patchable document (``document``): the columns it copies, then what it derives; a
# patch's paths name these (the API document says so).
STORED_FIELDS = ("uuid", "name", "cluster_template_id", "keypair", "docker_volume_size",
                 "labels", "master_flavor_id", "flavor_id", "create_timeout", "discovery_url",
                 "status", "status_reason", "health_status", "api_address", "coe_version",
                 "container_version", "project_id", "user_id", "fixed_network",
                 "fixed_subnet", "floating_ip_enabled", "master_lb_enabled", "stack_id")
DOCUMENT_FIELDS = (*STORED_FIELDS, "health_status_reason", "node_count", "master_count",
                   "cluster_id", "node_addresses", "master_addresses")
MAPPINGS = ("labels", "health_status_reason")  # the document's attributes that are mappings
MANDATORY = ("/node_count",)  # removing it would leave a cluster without a size
ZERO_NODES = "Resizing a nodegroup to zero is not supported in the provided microversion."
# A cluster list selects the columns ClusterSummary names, in its order (its one owner).
SUMMARY_COLUMNS = repository.cluster_columns(ClusterSummary._fields)
_TOTALS = ("master_total", "worker_total")
_LOADED_SUMMARY = tuple(name for name in ClusterSummary._fields if name not in _TOTALS)


@dataclass(frozen=True)
class ApiFlags:
    """Microversion-dependent behaviour, decided by the API layer."""

    zero_nodes_allowed: bool = True
    missing_template_is_invalid: bool = False


def _template(session: Session, svc: Services, ctx: RequestContext, ident: str,
              flags: ApiFlags) -> models.ClusterTemplate:
    scope = Scope(project_id=ctx.project_id, all_projects=ctx.is_admin, include_public=True)
    try:
        return repository.get_by_ident(session, models.ClusterTemplate, ident, scope,
                                       "clustertemplate")
    except NotFound as exc:
        if flags.missing_template_is_invalid:
            raise Invalid(exc.message) from None
        raise


def driver_for(svc: Services, template: models.ClusterTemplate) -> Driver:
    return svc.drivers.for_type(ClusterType(template.server_type, template.cluster_distro or "",
                                            template.coe))


def create(svc: Services, ctx: RequestContext, data: Mapping[str, Any], flags: ApiFlags,
           rule: str = "cluster:create") -> ClusterRecord:
    values = dict(data)
    if values.get("node_count") == 0 and not flags.zero_nodes_allowed:
        raise Invalid(ZERO_NODES)
    with svc.transaction() as session:
        template = _template(session, svc, ctx, str(values.pop("cluster_template_id")), flags)
        driver = driver_for(svc, template)
        spec = _inherit(template, values)
        _check_create(svc, ctx, session, template, driver, spec, rule)
        cluster = models.Cluster(uuid=str(uuidlib.uuid4()), project_id=ctx.project_id,
                                 user_id=ctx.user_id, cluster_template_id=template.uuid,
                                 status=lifecycle.request_create().status,
                                 status_since=utcnow(), generation=1, **spec.cluster)
        repository.add(session, cluster, "A cluster with that UUID already exists.")
        for ng in _default_nodegroups(cluster, template, spec):
            session.add(ng)
        pki.create_ca(svc, session, cluster)
        session.flush()
        session.refresh(cluster, attribute_names=["nodegroups"])
    svc.nudge(cluster.uuid)
    return cluster


@dataclass
class _Spec:
    cluster: dict[str, Any]
    master_count: int
    node_count: int


def _inherit(template: models.ClusterTemplate, values: dict[str, Any]) -> _Spec:
    labels = label_rules.stringify(values.pop("labels", None))
    if values.pop("merge_labels", False):
        labels = {**template.labels, **labels}
    elif not labels:
        labels = dict(template.labels)
    cluster = {
        "name": values.get("name") or names.generate("cluster"),
        "keypair": values.get("keypair") or template.keypair_id,
        "docker_volume_size": values.get("docker_volume_size") or template.docker_volume_size,
        "labels": labels,
        "master_flavor_id": values.get("master_flavor_id") or template.master_flavor_id,
        "flavor_id": values.get("flavor_id") or template.flavor_id,
        "create_timeout": values.get("create_timeout", 60),
        "discovery_url": values.get("discovery_url"),
        "fixed_network": values.get("fixed_network") or template.fixed_network,
        "fixed_subnet": values.get("fixed_subnet") or template.fixed_subnet,
        "floating_ip_enabled": values.get("floating_ip_enabled", template.floating_ip_enabled),
        "master_lb_enabled": values.get("master_lb_enabled", template.master_lb_enabled),
    }
    return _Spec(cluster, values.get("master_count", 1), values.get("node_count", 1))


def settings_of(template: models.ClusterTemplate, cluster: Mapping[str, Any]) -> Settings:
    """What a cluster (its inherited values, as ``_inherit`` makes them) asks of its driver."""
    return settings_check.of_template(
        template, **{name: cluster.get(name) for name in (
            "labels", "docker_volume_size", "fixed_network", "fixed_subnet",
            "floating_ip_enabled", "master_lb_enabled")})


def _check_create(svc: Services, ctx: RequestContext, session: Session,
                  template: models.ClusterTemplate, driver: Driver, spec: _Spec,
                  rule: str) -> None:
    c = spec.cluster
    coe_rules.validate_docker_volume_size(template.docker_storage_driver,
                                          c["docker_volume_size"])
    if spec.master_count % 2 == 0:
        raise Invalid(f"master nodegroup size of {spec.master_count} is invalid, size cannot "
                      "be an even number.")
    svc.authz.authorize(ctx, rule)
    _check_quota(svc, session, ctx.project_id)
    if template.hidden and not ctx.is_admin:
        raise NotAuthorized("Not authorized.")
    catalog_check.check_flavor(driver, c["flavor_id"])
    catalog_check.check_flavor(driver, c["master_flavor_id"])
    catalog_check.check_keypair(driver, c["keypair"], ctx.user_id)
    if spec.master_count > 1 and not c["master_lb_enabled"]:
        raise Invalid("master_count must be 1 when master_lb_enabled is False")
    capacity.check(driver, spec.master_count + spec.node_count)
    settings_check.check(driver, settings_of(template, c))


def _check_quota(svc: Services, session: Session, project_id: str | None) -> None:
    quota = repository.get_quota(session, project_id or "", "Cluster")
    limit = quota.hard_limit if quota else svc.conf.quotas.max_clusters_per_project
    if repository.count_clusters(session, project_id) >= limit:
        raise NotAuthorized(f"Resource limit exceeded: You have reached the maximum clusters "
                            f"per project, {limit}. Please delete unused clusters or ask an "
                            "administrator to raise the quota.")


def _default_nodegroups(cluster: models.Cluster, template: models.ClusterTemplate,
                        spec: _Spec) -> list[models.NodeGroup]:
    common: dict[str, Any] = {"cluster_id": cluster.uuid, "project_id": cluster.project_id,
              "labels": dict(cluster.labels), "image_id": template.image_id,
              "docker_volume_size": cluster.docker_volume_size, "is_default": True,
              "status": lifecycle.request_create().status, "node_addresses": []}
    min_nodes = cluster.labels.get("min_node_count", "0")
    max_nodes = cluster.labels.get("max_node_count", "")
    return [
        models.NodeGroup(uuid=str(uuidlib.uuid4()), name="default-master", role="master",
                         node_count=spec.master_count, flavor_id=cluster.master_flavor_id,
                         min_node_count=1, **common),
        models.NodeGroup(uuid=str(uuidlib.uuid4()), name="default-worker", role="worker",
                         node_count=spec.node_count, flavor_id=cluster.flavor_id,
                         min_node_count=int(min_nodes) if min_nodes.isdigit() else 0,
                         max_node_count=int(max_nodes) if max_nodes.isdigit() else None,
                         **common),
    ]


def load(session: Session, svc: Services, ctx: RequestContext, ident: str,
         action: str) -> models.Cluster:
    scope = scope_for(svc, ctx, "cluster", action)
    return repository.get_by_ident(session, models.Cluster, ident, scope, "cluster",
                                   options=repository.WITH_NODEGROUPS)


def get(svc: Services, ctx: RequestContext, ident: str, rule: str = "cluster:get"
        ) -> ClusterRecord:
    with svc.reading() as session:
        cluster = load(session, svc, ctx, ident, "get_one")
    svc.authz.authorize(ctx, rule, target_of(cluster))
    return cluster


def list_(svc: Services, ctx: RequestContext, page: Page, rule: str = "cluster:detail"
          ) -> list[ClusterRecord]:
    """A page of clusters with their nodegroups (a detail list)."""
    svc.authz.authorize(ctx, rule)
    scope = scope_for(svc, ctx, "cluster", "detail")
    with svc.reading() as session:
        return list(repository.list_page(session, models.Cluster, scope, page))


def get_with_template_labels(svc: Services, ctx: RequestContext, ident: str,
                             rule: str = "cluster:get") -> tuple[ClusterRecord, dict[str, str]]:
    """``get`` and the labels of the cluster's template (its view compares them), in one
    read transaction."""
    with svc.reading() as session:
        cluster = load(session, svc, ctx, ident, "get_one")
        template = cluster.cluster_template_id
        labels = repository.template_labels(session, {template}).get(template, {})
    svc.authz.authorize(ctx, rule, target_of(cluster))
    return cluster, labels


def list_summaries(svc: Services, ctx: RequestContext, page: Page,
                   rule: str = "cluster:get_all") -> list[ClusterSummary]:
    """A page of clusters without details: the ``ClusterSummary`` columns only, node counts
    summed in SQL (no ORM object, no nodegroup loaded)."""
    svc.authz.authorize(ctx, rule)
    scope = scope_for(svc, ctx, "cluster", "get_all")
    with svc.reading() as session:
        rows = repository.list_page_columns(session, models.Cluster, scope, page,
                                            SUMMARY_COLUMNS)
    make = ClusterSummary._make
    return [make(row) for row in rows]


def summary_of(cluster: ClusterRecord) -> ClusterSummary:
    """The list entry of a cluster already loaded with its nodegroups."""
    masters, workers = counts(cluster)
    return ClusterSummary(**{name: getattr(cluster, name) for name in _LOADED_SUMMARY},
                          master_total=masters, worker_total=workers)


def default_nodegroup(cluster: models.Cluster, role: str) -> models.NodeGroup | None:
    return next((ng for ng in cluster.nodegroups if ng.is_default and ng.role == role), None)


def counts(cluster: ClusterRecord) -> tuple[int, int]:
    """(master_count, node_count) summed over the cluster's nodegroups."""
    masters = sum(ng.node_count for ng in cluster.nodegroups if ng.role == "master")
    workers = sum(ng.node_count for ng in cluster.nodegroups if ng.role != "master")
    return masters, workers


def document(cluster: models.Cluster) -> dict[str, Any]:
    """The patchable view of a cluster: Magnum's fields with derived counts
    (``DOCUMENT_FIELDS``, which the API document lets a patch's paths name)."""
    masters, workers = counts(cluster)
    doc = {k: getattr(cluster, k) for k in STORED_FIELDS}
    doc["health_status_reason"] = health_reason(cluster)
    worker = default_nodegroup(cluster, "worker")
    doc.update(node_count=worker.node_count if worker else workers, master_count=masters,
               cluster_id=cluster.stack_id, node_addresses=[], master_addresses=[])
    return doc


def health_reason(cluster: ClusterRecord) -> dict[str, str]:
    """Magnum's ``health_status_reason`` of a cluster: the one place its structured health
    (``health_conditions``) is rendered, for the API's views and the PATCH document alike."""
    return lifecycle.health_reason(lifecycle.conditions_from_json(cluster.health_conditions))


def update(svc: Services, ctx: RequestContext, ident: str, ops: Any, flags: ApiFlags,
           rule: str = "cluster:update") -> ClusterRecord:
    with svc.transaction() as session:
        cluster = load(session, svc, ctx, ident, "update")
        svc.authz.authorize(ctx, rule, target_of(cluster))
        before = document(cluster)
        after = patch.apply(before, ops, internal=INTERNAL, mandatory=MANDATORY)
        changed = patch.changed_fields(before, after)
        if changed - PATCHABLE:
            refused = ", ".join(sorted(changed - PATCHABLE))
            raise Invalid(f"cannot change cluster property(ies) {refused}.")
        if changed & {"health_status", "health_status_reason"}:
            svc.authz.authorize(ctx, "cluster:update_health_status")
            _set_health(cluster, after, replace_reason="health_status_reason" in changed)
        if "node_count" in changed:
            count = _node_count(after["node_count"], flags)
            worker = default_nodegroup(cluster, "worker")
            if worker is None:
                raise Invalid("The cluster has no default worker nodegroup to scale.")
            check_size(svc, session, cluster, worker, count)
            _scale(session, cluster, worker, count, [])
        if changed:
            cluster.updated_at = utcnow()
    if "node_count" in changed:
        svc.nudge(cluster.uuid)
    return cluster


def _node_count(value: Any, flags: ApiFlags) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise Invalid(f"Invalid input for field/attribute node_count. Value: '{value}'. "
                      "Value should be an integer.") from None
    if count < 0 or isinstance(value, bool):
        raise Invalid(f"Invalid input for field/attribute node_count. Value: '{value}'. "
                      "Value should be greater or equal to 0")
    if count == 0 and not flags.zero_nodes_allowed:
        raise Invalid(ZERO_NODES)
    return count


def _set_health(cluster: models.Cluster, after: Mapping[str, Any], *,
                replace_reason: bool) -> None:
    """An administrator's health report; the reason is kept as given (free-form entries),
    and the observed conditions stay structured when only the status changed."""
    status = after["health_status"]
    if status is not None and status not in lifecycle.HEALTH_STATUSES:
        raise Invalid(f"Invalid input for field/attribute health_status. Value: '{status}'. "
                      f"Value should be one of: {', '.join(lifecycle.HEALTH_STATUSES)}")
    reason = label_rules.literal(after["health_status_reason"] or {}, dict,
                                 "health_status_reason")
    cluster.health_status = status
    if replace_reason:
        cluster.health_conditions = lifecycle.conditions_to_json(
            lifecycle.free_form(label_rules.stringify(reason)))


def ensure_mutable(cluster: models.Cluster,
                   change: lifecycle.Change = lifecycle.Change.UPDATE) -> None:
    """Refuse (400) a change the cluster's lifecycle does not take now (it is being deleted)."""
    lifecycle.check_update(cluster.status, cluster.desired_state, change)


def check_size(svc: Services, session: Session, cluster: models.Cluster,
               nodegroup: models.NodeGroup | None, count: int) -> None:
    """Refuse (400) a size the cluster's driver can never build: ``nodegroup`` (an existing
    one, or None for a new one) with ``count`` nodes, next to the cluster's other groups."""
    template = repository.get_template_by_uuid(session, cluster.cluster_template_id)
    nodes = capacity.total(cluster.nodegroups, changed=nodegroup, count=count,
                           added=count if nodegroup is None else 0)
    capacity.check(driver_for(svc, template), nodes)


def _scale(session: Session, cluster: models.Cluster, nodegroup: models.NodeGroup, count: int,
           nodes_to_remove: list[str]) -> None:
    ensure_mutable(cluster, lifecycle.Change.RESIZE)
    nodegroup.node_count = count
    nodegroup.nodes_to_remove = list(nodes_to_remove)
    nodegroup.generation += 1
    mark_updating(cluster, nodegroup, change=lifecycle.Change.RESIZE)


def mark_updating(cluster: models.Cluster, nodegroup: models.NodeGroup | None = None, *,
                  change: lifecycle.Change = lifecycle.Change.UPDATE) -> None:
    """Record a new desired state (``lifecycle.request_update`` says which status it brings)."""
    move = lifecycle.request_update(cluster.status, cluster.desired_state, change)
    cluster.generation += 1
    now = utcnow()
    if not move.keeps_reason:
        cluster.status_reason = None
    if move.restarted:
        cluster.status_since = now
    cluster.status = move.status
    if nodegroup is not None:
        nodegroup.status = lifecycle.nodegroup_update(nodegroup.status)
        nodegroup.updated_at = now
    cluster.updated_at = now


def resize(svc: Services, ctx: RequestContext, ident: str, data: Mapping[str, Any],
           flags: ApiFlags, rule: str = "cluster:resize") -> ClusterRecord:
    count = _node_count(data["node_count"], flags)
    with svc.transaction() as session:
        cluster = load(session, svc, ctx, ident, "update")
        svc.authz.authorize(ctx, rule, target_of(cluster))
        nodegroup = _resize_target(session, cluster, data.get("nodegroup"))
        if nodegroup.role == "master":
            raise Invalid("Resizing the master nodegroup is not supported by this driver.")
        high = nodegroup.max_node_count
        if count < nodegroup.min_node_count or (high is not None and count > high):
            raise Invalid(f"Resizing {nodegroup.name} outside the allowed range: "
                          f"min_node_count = {nodegroup.min_node_count}, "
                          f"max_node_count = {high}")
        check_size(svc, session, cluster, nodegroup, count)
        _scale(session, cluster, nodegroup, count, list(data.get("nodes_to_remove") or []))
    svc.nudge(cluster.uuid)
    return cluster


def _resize_target(session: Session, cluster: models.Cluster, ident: str | None
                   ) -> models.NodeGroup:
    if ident is None:
        worker = default_nodegroup(cluster, "worker")
        if worker is None:
            raise Invalid("The cluster has no default worker nodegroup.")
        return worker
    return find_nodegroup(cluster, ident)


def find_nodegroup(cluster: models.Cluster, ident: str) -> models.NodeGroup:
    matches = [ng for ng in cluster.nodegroups if ng.uuid == ident or ng.name == ident]
    if not matches:
        raise NotFound(f"Nodegroup {ident} could not be found.")
    return matches[0]


def upgrade(svc: Services, ctx: RequestContext, ident: str, data: Mapping[str, Any],
            flags: ApiFlags, rule: str = "cluster:upgrade") -> ClusterRecord:
    from magna.common.exceptions import Conflict

    with svc.transaction() as session:
        cluster = load(session, svc, ctx, ident, "upgrade")
        svc.authz.authorize(ctx, rule, target_of(cluster))
        target = _template(session, svc, ctx, str(data["cluster_template"]), ApiFlags())
        ensure_mutable(cluster, lifecycle.Change.UPGRADE)
        ng_ident = data.get("nodegroup")
        nodegroup = find_nodegroup(cluster, ng_ident) if ng_ident else None
        if nodegroup is not None and not nodegroup.is_default and \
                target.uuid != cluster.cluster_template_id:
            raise Conflict("Cluster Template is not valid for upgrade: Nodegroup "
                           f"{nodegroup.name} can be upgraded only to match cluster's template "
                           f"({cluster.cluster_template_id}).")
        current = _template(session, svc, ctx, cluster.cluster_template_id, ApiFlags())
        if target.coe != current.coe:
            raise Invalid("Cluster Template is not valid for upgrade: the COE "
                          f"{target.coe} differs from the cluster's {current.coe}.")
        driver_for(svc, target)
        _apply_upgrade(cluster, target, nodegroup, data.get("max_batch_size", 1))
        _upgrade_flavors(cluster, current, target, nodegroup)
    svc.nudge(cluster.uuid)
    return cluster


def _apply_upgrade(cluster: models.Cluster, target: models.ClusterTemplate,
                   nodegroup: models.NodeGroup | None, max_batch_size: int) -> None:
    groups = [nodegroup] if nodegroup is not None else list(cluster.nodegroups)
    if nodegroup is None or nodegroup.is_default:
        cluster.cluster_template_id = target.uuid
    cluster.max_batch_size = max_batch_size
    for ng in groups:
        ng.image_id = target.image_id
        ng.generation += 1
        mark_updating(cluster, ng, change=lifecycle.Change.UPGRADE)
    if not groups:
        mark_updating(cluster, change=lifecycle.Change.UPGRADE)


def _upgrade_flavors(cluster: models.Cluster, current: models.ClusterTemplate,
                     target: models.ClusterTemplate, nodegroup: models.NodeGroup | None) -> None:
    """A Magna extension: where the new template changes a flavor, the default nodegroups (and
    the cluster's own record of it) take it; a flavor chosen at create time otherwise stays."""
    for ng in [nodegroup] if nodegroup is not None else list(cluster.nodegroups):
        if not ng.is_default:
            continue
        if ng.role == "master" and target.master_flavor_id not in (
                None, current.master_flavor_id):
            ng.flavor_id = cluster.master_flavor_id = target.master_flavor_id
        elif ng.role != "master" and target.flavor_id not in (None, current.flavor_id):
            ng.flavor_id = cluster.flavor_id = target.flavor_id


def delete(svc: Services, ctx: RequestContext, ident: str, rule: str = "cluster:delete"
           ) -> None:
    with svc.transaction() as session:
        cluster = load(session, svc, ctx, ident, "delete")
        svc.authz.authorize(ctx, rule, target_of(cluster))
        federations.cluster_deleting(session, cluster, ident)
        deletion = lifecycle.request_delete(cluster.status, cluster.desired_state)
        if deletion.newly_absent:
            cluster.desired_state = lifecycle.ABSENT
            cluster.generation += 1
        if deletion.move.restarted:
            cluster.status_since = utcnow()
        cluster.status = deletion.move.status
        cluster.status_reason = None
        cluster.updated_at = utcnow()
        for ng in cluster.nodegroups:
            ng.status = deletion.move.status
    svc.nudge(cluster.uuid)


def faults(cluster: ClusterRecord) -> dict[str, str]:
    return {ng.name: ng.status_reason or "" for ng in cluster.nodegroups
            if ng.status in lifecycle.FAILED}



def events(svc: Services, ctx: RequestContext, ident: str, limit: int,
           rule: str = "cluster:get") -> Sequence[EventRecord]:
    """The cluster's most recent events, oldest first (Magna's extension to the API)."""
    with svc.transaction() as session:
        cluster = load(session, svc, ctx, ident, "get_one")
        svc.authz.authorize(ctx, rule, target_of(cluster))
        return repository.list_events(session, cluster.uuid, limit)
