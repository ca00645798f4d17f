"""Credential rotation: record that a cluster's cloud credential must be replaced.

Only drivers with the optional ``CredentialRotation`` ability can do it; for any other the
answer is upstream's 400. When the driver can, the intent is recorded like any cluster update
(``generation`` bumped, ``UPDATE_IN_PROGRESS``) and the conductor asks the driver to rotate.
"""

from __future__ import annotations

from magna.common.context import RequestContext
from magna.common.exceptions import Invalid
from magna.db import repository
from magna.domain import clusters as lifecycle
from magna.drivers.base import CredentialRotation
from magna.services import Services, clusters
from magna.services.readmodels import ClusterRecord

NOT_SUPPORTED = "Credential rotation is not supported by driver."


def rotate(svc: Services, ctx: RequestContext, cluster_ident: str,
           rule: str = "credential:rotate") -> ClusterRecord:
    # NOTE: as upstream, the rule is checked against the caller's own project, before the
    # cluster is looked up; there is no admin clause (admins pass through the member role).
    svc.authz.authorize(ctx, rule)
    with svc.transaction() as session:
        cluster = clusters.load(session, svc, ctx, cluster_ident, "update")
        template = repository.get_template_by_uuid(session, cluster.cluster_template_id)
        if not isinstance(clusters.driver_for(svc, template), CredentialRotation):
            raise Invalid(NOT_SUPPORTED)
        clusters.ensure_mutable(cluster, lifecycle.Change.ROTATE_CREDENTIAL)
        # NOTE: the request is recorded as a new generation only; the models have no field
        # yet saying *which* change it was, which the conductor will need to call the driver.
        clusters.mark_updating(cluster, change=lifecycle.Change.ROTATE_CREDENTIAL)
    svc.nudge(cluster.uuid)
    return cluster
