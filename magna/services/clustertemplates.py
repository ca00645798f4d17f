"""Cluster templates: create, read, JSON-patch, delete; visibility and publishing rules."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from magna.common.context import RequestContext
from magna.common.exceptions import Invalid, NotAuthorized
from magna.db import models, repository
from magna.db.models import utcnow
from magna.domain import coe as coe_rules
from magna.domain import labels as label_rules
from magna.domain import names, patch
from magna.domain.paging import Page
from magna.services import Services, catalog_check, scope_for, settings_check, target_of
from magna.services.readmodels import TemplateRow

# Attributes a user may set, in Magnum's response order: a TemplateRow without timestamps.
FIELDS = tuple(name for name in TemplateRow._fields if name not in ("created_at", "updated_at"))
# A template list selects the columns TemplateRow names, in its order (its one owner).
VIEW_COLUMNS: tuple[Any, ...] = tuple(getattr(models.ClusterTemplate, name)
                                      for name in TemplateRow._fields)
INTERNAL = ("/cluster_distro", "/driver")
MANDATORY = ("/coe", "/image_id", "/network_driver", "/external_network_id", "/tls_disabled",
             "/public", "/server_type", "/registry_enabled", "/cluster_distro", "/hidden")
DEFAULTS: dict[str, Any] = {"labels": {}, "registry_enabled": False, "tls_disabled": False,
                            "public": False, "hidden": False, "server_type": "vm",
                            "master_lb_enabled": False, "floating_ip_enabled": True}
# Changes still allowed while clusters use the template.
_IN_USE_ALLOWED = ({"name"}, {"hidden"}, {"tags"})


def create(svc: Services, ctx: RequestContext, data: Mapping[str, Any],
           publish_rule: str = "clustertemplate:publish",
           create_rule: str = "clustertemplate:create") -> TemplateRow:
    values = {**DEFAULTS, **data}
    values["labels"] = label_rules.stringify(values.get("labels"))
    _validate(svc, values)
    svc.authz.authorize(ctx, create_rule)
    _check_publish(svc, ctx, values, publish_rule)
    values["name"] = values.get("name") or names.generate("template")
    values["uuid"] = values.get("uuid") or str(uuidlib.uuid4())
    row = models.ClusterTemplate(**values, project_id=ctx.project_id, user_id=ctx.user_id)
    with svc.transaction() as session:
        repository.add(session, row, f"A ClusterTemplate with UUID {row.uuid} already exists.")
    return row_of(row)


def _validate(svc: Services, values: dict[str, Any]) -> None:
    """COE rules, then the catalog (image, driver, flavors, external network), in Magnum's order."""
    conf = svc.conf.cluster_template
    is_k8s = values["coe"] == "kubernetes"
    values["network_driver"] = coe_rules.validate_template(
        coe=values["coe"], server_type=values["server_type"],
        network_driver=values.get("network_driver"), volume_driver=values.get("volume_driver"),
        allowed_network_drivers=(conf.kubernetes_allowed_network_drivers if is_k8s
                                 else conf.swarm_allowed_network_drivers),
        default_network_driver=(conf.kubernetes_default_network_driver if is_k8s
                                else conf.swarm_default_network_driver))
    coe_rules.validate_docker_volume_size(values.get("docker_storage_driver"),
                                          values.get("docker_volume_size"))
    coe_rules.validate_dns_nameserver(values.get("dns_nameserver"))
    driver, image = catalog_check.resolve_driver(
        svc.drivers, image_id=values["image_id"], server_type=values["server_type"],
        coe=values["coe"])
    catalog_check.check_flavor(driver, values.get("flavor_id"))
    catalog_check.check_flavor(driver, values.get("master_flavor_id"))
    catalog_check.check_external_network(driver, values.get("external_network_id"))
    settings_check.check(driver, settings_check.of_template(values))
    values["cluster_distro"] = image.os_distro
    values["driver"] = driver.name


def _check_publish(svc: Services, ctx: RequestContext, values: Mapping[str, Any],
                   rule: str) -> None:
    if (values.get("public") or values.get("hidden")) and not svc.authz.check(ctx, rule):
        raise NotAuthorized("Not authorized to set public or hidden flag for cluster template.")


def _load(session: Session, svc: Services, ctx: RequestContext, ident: str,
          action: str) -> models.ClusterTemplate:
    scope = scope_for(svc, ctx, "clustertemplate", action, include_public=True)
    return repository.get_by_ident(session, models.ClusterTemplate, ident, scope,
                                   "clustertemplate")


def get(svc: Services, ctx: RequestContext, ident: str,
        rule: str = "clustertemplate:get") -> TemplateRow:
    with svc.reading() as session:
        row = _load(session, svc, ctx, ident, "get_one")
    if not row.public:
        svc.authz.authorize(ctx, rule, target_of(row))
    return row_of(row)


def list_(svc: Services, ctx: RequestContext, page: Page,
          rule: str = "clustertemplate:get_all") -> list[TemplateRow]:
    """A page of templates, read as ``VIEW_COLUMNS`` (no ORM object per row)."""
    svc.authz.authorize(ctx, rule)
    scope = scope_for(svc, ctx, "clustertemplate", "get_all", include_public=True)
    with svc.reading() as session:
        rows = repository.list_page_columns(session, models.ClusterTemplate, scope, page,
                                            VIEW_COLUMNS)
    make = TemplateRow._make
    return [make(row) for row in rows]


def row_of(template: models.ClusterTemplate) -> TemplateRow:
    return TemplateRow._make(getattr(template, name) for name in TemplateRow._fields)


def document(row: models.ClusterTemplate) -> dict[str, Any]:
    return {name: getattr(row, name) for name in FIELDS}


def update(svc: Services, ctx: RequestContext, ident: str, ops: Any,
           retype: Callable[[dict[str, Any]], dict[str, Any]],
           rule: str = "clustertemplate:update",
           publish_rule: str = "clustertemplate:publish") -> TemplateRow:
    with svc.transaction() as session:
        row = _load(session, svc, ctx, ident, "update")
        svc.authz.authorize(ctx, rule, target_of(row))
        before = document(row)
        after = patch.apply(before, ops, internal=INTERNAL, mandatory=MANDATORY)
        after["labels"] = label_rules.literal(after.get("labels") or {}, dict, "labels")
        after = {**after, **retype(after)}
        after["labels"] = label_rules.stringify(after["labels"])
        changed = patch.changed_fields(before, after)
        if changed & {"public", "hidden"} and not svc.authz.check(ctx, publish_rule):
            raise NotAuthorized("Not authorized to set public or hidden flag for cluster "
                                "template.")
        if changed and repository.template_in_use(session, row.uuid):
            _check_in_use_change(row, changed, after)
        if changed - {"name", "tags", "public", "hidden"}:
            _validate(svc, after)
        for name in patch.changed_fields(before, after):
            setattr(row, name, after[name])
        if changed:
            row.updated_at = utcnow()
    return row_of(row)


def _check_in_use_change(row: models.ClusterTemplate, changed: set[str],
                         after: Mapping[str, Any]) -> None:
    if changed in _IN_USE_ALLOWED or (changed == {"public"} and after["public"]):
        return
    raise Invalid(f"ClusterTemplate {row.uuid} is referenced by one or multiple clusters.")


def delete(svc: Services, ctx: RequestContext, ident: str,
           rule: str = "clustertemplate:delete") -> None:
    with svc.transaction() as session:
        row = _load(session, svc, ctx, ident, "delete")
        svc.authz.authorize(ctx, rule, target_of(row))
        if repository.template_in_use(session, row.uuid):
            raise Invalid(f"ClusterTemplate {row.uuid} is referenced by one or multiple "
                          "clusters.")
        session.delete(row)


def labels_of(svc: Services, uuids: set[str]) -> dict[str, dict[str, str]]:
    """Template labels by template UUID, for computing clusters' label differences."""
    if not uuids:
        return {}
    with svc.reading() as session:
        return repository.template_labels(session, uuids)
