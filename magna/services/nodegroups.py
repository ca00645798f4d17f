"""Nodegroups: show a cluster's groups of nodes; record create, change and delete intent.

A nodegroup row is the desired state of one group of nodes. A write checks the request against
Magnum's rules (unique name, ``min ≤ node_count ≤ max``, node labels and taints), stores it, bumps
``generation`` on the nodegroup and the cluster in one transaction, and only then nudges the
conductor. Deleting is a state, not a ``DELETE``: the row keeps ``desired_state = "absent"`` and
``DELETE_IN_PROGRESS`` until the conductor sees the driver report the nodes gone.

The validation helpers at the top are pure (input → ``Conflict`` or a cleaned value).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from magna.common.context import RequestContext
from magna.common.exceptions import Conflict, Invalid
from magna.db import models, repository
from magna.db.models import utcnow
from magna.db.repository import Scope
from magna.domain import clusters as lifecycle
from magna.domain import coe as coe_rules
from magna.domain import labels as label_rules
from magna.domain import patch
from magna.domain.paging import Page
from magna.services import Services, catalog_check, clusters, scope_for, settings_check, target_of
from magna.services.readmodels import ClusterRecord, NodeGroupRecord

PATCHABLE = frozenset({"/min_node_count", "/max_node_count", "/node_labels", "/node_taints"})
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TAINT_FIELDS = frozenset({"key", "value", "effect"})
# Kubelet's rule for --node-labels: these namespaces are reserved, except for the kubelet's
# own prefixes and the well-known labels below.
RESERVED_LABEL_DOMAINS = ("kubernetes.io", "k8s.io")
ALLOWED_LABEL_DOMAINS = ("kubelet.kubernetes.io", "node.kubernetes.io")
WELL_KNOWN_LABELS = frozenset({
    "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type", "beta.kubernetes.io/os",
    "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    "kubernetes.io/arch", "kubernetes.io/hostname", "kubernetes.io/os",
    "node.kubernetes.io/instance-type", "node.kubernetes.io/windows-build",
    "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
})
# NOTE: JSON columns have no order on PostgreSQL; the repository's own list misses this one.
_UNSORTABLE = frozenset({"nodes_to_remove"})


def invalid_input(attr: str, nodegroup: str, explanation: str) -> Conflict:
    """Magnum's ``NodeGroupInvalidInput``: raised as a 409, as upstream does."""
    return Conflict(f"{attr} for {nodegroup} is invalid ({explanation}).")


def check_counts(name: str, *, node_count: int, min_node_count: int,
                 max_node_count: int | None) -> None:
    """``min_node_count ≤ node_count ≤ max_node_count`` with Magnum's messages.

    NOTE: upstream ignores a ``max_node_count`` of 0 (it tests truthiness); Magna treats every
    non-null maximum as a bound, as its resize action does, so both agree on what 0 means.
    """
    if max_node_count is not None:
        if max_node_count < min_node_count:
            raise invalid_input("max_node_count", name,
                                f"min_node_count ({min_node_count}) should be less or equal "
                                f"to max_node_count ({max_node_count})")
        if node_count > max_node_count:
            raise invalid_input("max_node_count", name,
                                f"node_count ({node_count}) should be less or equal to "
                                f"max_node_count ({max_node_count})")
    if min_node_count > node_count:
        raise invalid_input("min_node_count", name,
                            f"min_node_count ({min_node_count}) should be less or equal to "
                            f"node_count ({node_count})")


def _in_domain(prefix: str, domains: Sequence[str]) -> bool:
    return any(prefix == domain or prefix.endswith("." + domain) for domain in domains)


def label_key_allowed(key: str) -> bool:
    """Whether a node label key may be set (the kubelet refuses the reserved namespaces)."""
    prefix = key.rpartition("/")[0]
    if not _in_domain(prefix, RESERVED_LABEL_DOMAINS):
        return True
    return _in_domain(prefix, ALLOWED_LABEL_DOMAINS) or key in WELL_KNOWN_LABELS


def check_node_labels(name: str, role: str, labels: Mapping[Any, Any]) -> dict[str, str]:
    """Validate node labels; return them with string values."""
    if labels and role == "master":
        raise invalid_input("node_labels", name, "node labels are not supported on master "
                            "nodegroups")
    for key, value in labels.items():
        if not isinstance(key, str) or not key:
            raise invalid_input("node_labels", name, f"node label {key!r} is not a non-empty "
                                "string")
        if not label_key_allowed(key):
            raise invalid_input("node_labels", name,
                                f"node label '{key}' is in a reserved namespace; only the "
                                f"{' and '.join(ALLOWED_LABEL_DOMAINS)} prefixes and the "
                                "well-known labels are allowed")
        if not isinstance(value, str | int | float | bool):
            raise invalid_input("node_labels", name, f"the value of node label '{key}' is "
                                "not a string")
    return label_rules.stringify(labels)


def check_node_taints(name: str, role: str, taints: Sequence[Any]) -> list[dict[str, str]]:
    """Validate node taints: objects of ``key`` (required), ``value`` and ``effect``.

    NOTE: ``effect`` is required: Kubernetes rejects a node taint without one, so accepting it
    here would only move the failure into the conductor.
    """
    if taints and role == "master":
        raise invalid_input("node_taints", name, "node taints are not supported on master "
                            "nodegroups")
    return [_check_taint(name, taint) for taint in taints]


def _check_taint(name: str, taint: Any) -> dict[str, str]:
    if not isinstance(taint, dict):
        raise invalid_input("node_taints", name, f"taint {taint!r} is not an object")
    unknown = set(taint) - TAINT_FIELDS
    if unknown:
        raise invalid_input("node_taints", name, f"taint {taint!r} has unknown attributes "
                            f"{', '.join(sorted(map(str, unknown)))}")
    key, value = taint.get("key"), taint.get("value")
    if not isinstance(key, str) or not key:
        raise invalid_input("node_taints", name, f"taint {taint!r} needs a non-empty key")
    if value is not None and not isinstance(value, str):
        raise invalid_input("node_taints", name, f"the value of taint '{key}' is not a string")
    if taint.get("effect") not in TAINT_EFFECTS:
        raise invalid_input("node_taints", name,
                            f"the effect of taint '{key}' should be one of "
                            f"{', '.join(TAINT_EFFECTS)}")
    return {"key": key, "value": value or "", "effect": str(taint["effect"])}


def count_value(value: Any, field: str) -> int:
    """A patched count: a non-negative integer (a digit string is accepted, as WSME did)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid(f"Invalid input for field/attribute {field}. Value: '{value}'. "
                      "Value should be an integer.")
    try:
        count = int(value)
    except ValueError:
        raise Invalid(f"Invalid input for field/attribute {field}. Value: '{value}'. "
                      "Value should be an integer.") from None
    if count < 0:
        raise Invalid(f"Invalid input for field/attribute {field}. Value: '{value}'. "
                      "Value should be greater or equal to 0")
    return count


def _write_scope(ctx: RequestContext) -> Scope:
    return Scope(project_id=ctx.project_id, all_projects=ctx.is_admin)


def _read(session: Session, svc: Services, ctx: RequestContext, cluster_ident: str,
          action: str) -> tuple[models.Cluster, Scope]:
    """The cluster, looked up with nodegroup scoping, after the ``nodegroup:<rule>`` check."""
    scope = scope_for(svc, ctx, "nodegroup", action)
    cluster = repository.get_by_ident(session, models.Cluster, cluster_ident, scope, "cluster")
    rule = "nodegroup:get_all" if action == "get_all" else "nodegroup:get"
    svc.authz.authorize(ctx, rule, target_of(cluster))
    return cluster, scope


def _write(session: Session, svc: Services, ctx: RequestContext, cluster_ident: str,
           rule: str) -> models.Cluster:
    # NOTE: a nodegroup write is an update of its cluster, so admins reach other projects'
    # clusters through ``cluster:update_all_projects`` (upstream has no nodegroup rule for it).
    cluster = clusters.load(session, svc, ctx, cluster_ident, "update")
    svc.authz.authorize(ctx, rule, target_of(cluster))
    return cluster


def list_(svc: Services, ctx: RequestContext, cluster_ident: str, page: Page, *,
          role: str | None = None) -> tuple[ClusterRecord, Sequence[NodeGroupRecord]]:
    if page.sort_key in _UNSORTABLE:
        raise Invalid(f'The sort_key value "{page.sort_key}" is an invalid field for sorting')
    with svc.transaction() as session:
        cluster, scope = _read(session, svc, ctx, cluster_ident, "get_all")
        rows = repository.list_nodegroups(session, cluster.uuid, scope, page, role)
    return cluster, rows


def get(svc: Services, ctx: RequestContext, cluster_ident: str, ident: str
        ) -> tuple[ClusterRecord, NodeGroupRecord]:
    with svc.transaction() as session:
        cluster, scope = _read(session, svc, ctx, cluster_ident, "get_one")
        nodegroup = repository.get_nodegroup(session, cluster.uuid, ident, scope)
    return cluster, nodegroup


def create(svc: Services, ctx: RequestContext, cluster_ident: str, data: Mapping[str, Any]
           ) -> tuple[ClusterRecord, NodeGroupRecord]:
    """Record a new worker nodegroup (202); the conductor builds it.

    NOTE: upstream refuses (409) while the cluster has no ``api_address`` yet. Magna records
    intent instead, so a nodegroup asked for during cluster creation is simply created with it;
    only a cluster being deleted refuses (``ensure_mutable``).
    """
    with svc.transaction() as session:
        cluster = _write(session, svc, ctx, cluster_ident, "nodegroup:create")
        clusters.ensure_mutable(cluster, lifecycle.Change.NODEGROUP)
        nodegroup = _new_nodegroup(svc, session, cluster, data)
        conflict = _name_taken(data["name"], cluster)
        repository.add(session, nodegroup, conflict)
        clusters.mark_updating(cluster, change=lifecycle.Change.NODEGROUP)
    svc.nudge(cluster.uuid)
    return cluster, nodegroup


def _name_taken(name: str, cluster: models.Cluster) -> str:
    return f"A node group with name {name} already exists in the cluster {cluster.name}."


def _new_nodegroup(svc: Services, session: Session, cluster: models.Cluster,
                   data: Mapping[str, Any]) -> models.NodeGroup:
    """Validate the request in Magnum's order and fill defaults from the cluster."""
    name = str(data["name"])
    if any(ng.name == name for ng in cluster.nodegroups):
        raise Conflict(_name_taken(name, cluster))
    counts = {k: data.get(k, default) for k, default in (
        ("node_count", 1), ("min_node_count", 0), ("max_node_count", None))}
    check_counts(name, **counts)
    role = data.get("role", "worker")
    if role == "master":
        raise Invalid("Creating master nodegroups is currently not supported.")
    node_labels = check_node_labels(name, role, data.get("node_labels") or {})
    node_taints = check_node_taints(name, role, data.get("node_taints") or [])
    template = repository.get_template_by_uuid(session, cluster.cluster_template_id)
    flavor = data.get("flavor_id") or cluster.flavor_id
    driver = clusters.driver_for(svc, template)
    catalog_check.check_flavor(driver, flavor)
    if data.get("image_id"):
        catalog_check.check_image(driver, str(data["image_id"]))
    clusters.check_size(svc, session, cluster, None, counts["node_count"])
    labels = _labels(cluster, data)
    volume = data.get("docker_volume_size") or cluster.docker_volume_size
    settings_check.check(driver, settings_check.of_template(
        template, labels=labels, docker_volume_size=volume,
        fixed_network=cluster.fixed_network, fixed_subnet=cluster.fixed_subnet,
        floating_ip_enabled=cluster.floating_ip_enabled,
        master_lb_enabled=cluster.master_lb_enabled))
    coe_rules.validate_docker_volume_size(template.docker_storage_driver, volume)
    # NOTE: the nodegroup belongs to the cluster's project (upstream takes the caller's), so a
    # nodegroup an admin adds to someone's cluster stays visible to that cluster's owners.
    return models.NodeGroup(
        uuid=str(uuidlib.uuid4()), name=name, cluster_id=cluster.uuid,
        project_id=cluster.project_id, role=role, flavor_id=flavor,
        image_id=data.get("image_id") or template.image_id, docker_volume_size=volume,
        labels=labels, node_labels=node_labels, node_taints=node_taints,
        node_addresses=[], is_default=False, status=lifecycle.request_create().status,
        generation=1, desired_state=lifecycle.PRESENT, nodes_to_remove=[], **counts)


def _labels(cluster: models.Cluster, data: Mapping[str, Any]) -> dict[str, str]:
    """The cluster's labels unless given; with ``merge_labels`` the given ones win."""
    if "labels" not in data:
        return dict(cluster.labels)
    labels = label_rules.stringify(data["labels"])
    if data.get("merge_labels"):
        return {**cluster.labels, **labels}
    return labels


def document(nodegroup: models.NodeGroup) -> dict[str, Any]:
    """The patchable part of a nodegroup."""
    return {"min_node_count": nodegroup.min_node_count,
            "max_node_count": nodegroup.max_node_count,
            "node_labels": dict(nodegroup.node_labels or {}),
            "node_taints": list(nodegroup.node_taints or [])}


def patched(nodegroup: models.NodeGroup, ops: Any) -> dict[str, Any]:
    """Apply a JSON patch to the patchable fields; return the validated changed values."""
    checked = patch.validate_ops(ops)
    internal = {"/" + op["path"].split("/")[1] for op in checked} - PATCHABLE
    before = document(nodegroup)
    after = patch.apply(before, checked, internal=internal)
    # A removed minimum falls back to its default (0); a removed maximum means "no bound".
    raw_low, raw_high = after["min_node_count"], after["max_node_count"]
    low = 0 if raw_low is None else count_value(raw_low, "min_node_count")
    high = None if raw_high is None else count_value(raw_high, "max_node_count")
    check_counts(nodegroup.name, node_count=nodegroup.node_count, min_node_count=low,
                 max_node_count=high)
    labels = label_rules.literal(after["node_labels"] or {}, dict, "node_labels")
    taints = label_rules.literal(after["node_taints"] or [], list, "node_taints")
    values = {"min_node_count": low, "max_node_count": high,
              "node_labels": check_node_labels(nodegroup.name, nodegroup.role, labels),
              "node_taints": check_node_taints(nodegroup.name, nodegroup.role, taints)}
    return {k: v for k, v in values.items() if v != before[k]}


def update(svc: Services, ctx: RequestContext, cluster_ident: str, ident: str, ops: Any
           ) -> tuple[ClusterRecord, NodeGroupRecord]:
    with svc.transaction() as session:
        cluster = _write(session, svc, ctx, cluster_ident, "nodegroup:update")
        nodegroup = repository.get_nodegroup(session, cluster.uuid, ident, _write_scope(ctx))
        clusters.ensure_mutable(cluster, lifecycle.Change.NODEGROUP)
        lifecycle.check_nodegroup_update(nodegroup.status, nodegroup.desired_state)
        changes = patched(nodegroup, ops)
        for name, value in changes.items():
            setattr(nodegroup, name, value)
        if changes:
            nodegroup.generation += 1
            clusters.mark_updating(cluster, nodegroup, change=lifecycle.Change.NODEGROUP)
    if changes:
        svc.nudge(cluster.uuid)
    return cluster, nodegroup


def delete(svc: Services, ctx: RequestContext, cluster_ident: str, ident: str) -> None:
    """Mark a non-default nodegroup for removal; repeating the request changes nothing."""
    with svc.transaction() as session:
        cluster = _write(session, svc, ctx, cluster_ident, "nodegroup:delete")
        nodegroup = repository.get_nodegroup(session, cluster.uuid, ident, _write_scope(ctx))
        lifecycle.check_nodegroup_delete(is_default=nodegroup.is_default)
        clusters.ensure_mutable(cluster, lifecycle.Change.NODEGROUP)
        deletion = lifecycle.request_delete(nodegroup.status, nodegroup.desired_state)
        if deletion.newly_absent:
            nodegroup.desired_state = lifecycle.ABSENT
            nodegroup.generation += 1
            clusters.mark_updating(cluster, change=lifecycle.Change.NODEGROUP)
        nodegroup.status = deletion.move.status
        nodegroup.status_reason = None
        nodegroup.updated_at = utcnow()
    svc.nudge(cluster.uuid)
