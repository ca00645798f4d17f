"""Certificates: hand out a cluster's CA, sign users' CSRs with it, and rotate it.

Reading and signing are synchronous: the CA lives in Magna's database (its key sealed by the
``KeyStore``), so no conductor round trip is needed, and they keep working while a cluster is
being deleted, until its row is gone (as upstream). Rotation replaces the CAs at once and records
an update of the cluster, so the conductor redistributes the new CA to the nodes.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from magna.common.context import RequestContext
from magna.common.exceptions import Invalid, NotFound
from magna.db import models, repository
from magna.domain import clusters as lifecycle
from magna.services import Services, clusters, pki, target_of
from magna.services.readmodels import ClusterRecord


def get_ca(svc: Services, ctx: RequestContext, cluster_ident: str,
           ca_cert_type: str | None = None) -> tuple[ClusterRecord, str]:
    """(cluster, PEM of its CA of the requested type); admin or the cluster's creator."""
    kind = pki.kind_of(ca_cert_type)
    with svc.transaction() as session:
        cluster = clusters.load(session, svc, ctx, cluster_ident, "get_one")
        svc.authz.authorize(ctx, "certificate:get", target_of(cluster))
        pem = pki.ca_of(svc, session, cluster, kind).certificate_pem
    return cluster, pem


def sign(svc: Services, ctx: RequestContext, cluster_ident: str, csr: str,
         ca_cert_type: str | None = None) -> tuple[ClusterRecord, str]:
    """(cluster, PEM of the certificate signed from ``csr``).

    An unknown cluster is a 400 here, not a 404: upstream resolves it while validating the body.
    """
    kind = pki.kind_of(ca_cert_type)
    with svc.transaction() as session:
        cluster = _cluster_in_body(session, svc, ctx, cluster_ident)
        svc.authz.authorize(ctx, "certificate:create", target_of(cluster))
        pem = pki.sign(svc, session, cluster, csr, kind)
    return cluster, pem


def _cluster_in_body(session: Session, svc: Services, ctx: RequestContext, ident: str
                     ) -> models.Cluster:
    try:
        return clusters.load(session, svc, ctx, ident, "get_one")
    except NotFound as exc:
        raise Invalid(exc.message) from None


def rotate_ca(svc: Services, ctx: RequestContext, cluster_ident: str) -> ClusterRecord:
    """Replace every CA of a TLS cluster now; the conductor rolls the new CA out (202)."""
    with svc.transaction() as session:
        cluster = clusters.load(session, svc, ctx, cluster_ident, "update")
        svc.authz.authorize(ctx, "certificate:rotate_ca", target_of(cluster))
        template = repository.get_template_by_uuid(session, cluster.cluster_template_id)
        if template.tls_disabled:
            raise Invalid("Rotating the CA certificate on a non-TLS cluster is not supported")
        clusters.ensure_mutable(cluster, lifecycle.Change.ROTATE_CA)
        pki.rotate(svc, session, cluster)
        clusters.mark_updating(cluster, change=lifecycle.Change.ROTATE_CA)
    svc.nudge(cluster.uuid)
    return cluster
