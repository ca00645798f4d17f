"""Each cluster's certificate authorities: created with the cluster, used to sign CSRs, rotated.

A cluster has a ``main`` CA (signs client and node certificates) and, created on first use, the
``etcd`` and ``front_proxy`` CAs Kubernetes clusters ask for. Private keys are sealed by the
``KeyStore`` before they reach the database.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from magna.common.exceptions import MagnaError
from magna.crypto import x509
from magna.db import models, repository
from magna.db.models import utcnow
from magna.services import Services

KINDS = {"etcd": "etcd", "front_proxy": "front_proxy", "front-proxy": "front_proxy"}
MAIN = "main"


def kind_of(ca_cert_type: str | None) -> str:
    if not ca_cert_type:
        return MAIN
    from magna.common.exceptions import Invalid

    if ca_cert_type not in KINDS:
        raise Invalid(f"Invalid ca_cert_type {ca_cert_type}; expected one of "
                      f"{', '.join(sorted(KINDS))}.")
    return KINDS[ca_cert_type]


def create_ca(svc: Services, session: Session, cluster: models.Cluster, kind: str = MAIN
              ) -> x509.KeyPair:
    pair = x509.generate_ca(cluster.name or cluster.uuid, key_size=svc.conf.x509.rsa_key_size,
                            days=svc.conf.x509.term_of_validity, now=utcnow())
    session.add(models.CertificateAuthority(
        cluster_id=cluster.uuid, kind=kind, certificate_pem=pair.certificate_pem,
        encrypted_private_key=svc.keystore.seal(pair.private_key_pem)))
    return pair


def ca_of(svc: Services, session: Session, cluster: models.Cluster, kind: str = MAIN
          ) -> x509.KeyPair:
    """The cluster's CA of ``kind``, created now if it is an auxiliary CA not yet made."""
    row = repository.get_ca(session, cluster.uuid, kind)
    if row is None and kind == MAIN:
        raise MagnaError(f"Cluster {cluster.uuid} has no CA; it is created with the cluster.")
    if row is None:
        pair = create_ca(svc, session, cluster, kind)
        session.flush()
        return pair
    return x509.KeyPair(row.certificate_pem, svc.keystore.open(row.encrypted_private_key))


def sign(svc: Services, session: Session, cluster: models.Cluster, csr_pem: str,
         kind: str = MAIN) -> str:
    ca = ca_of(svc, session, cluster, kind)
    conf = svc.conf.x509
    policy = x509.SigningPolicy(allowed_extensions=conf.allowed_extensions,
                                allowed_key_usage=conf.allowed_key_usage,
                                allow_ca=conf.allow_ca)
    return x509.sign_csr(csr_pem, ca=ca, days=conf.term_of_validity, now=utcnow(),
                         policy=policy)


def rotate(svc: Services, session: Session, cluster: models.Cluster) -> None:
    """Replace every CA of the cluster with a fresh one (old certificates stop verifying)."""
    existing = {row.kind: row for row in repository.list_cas(session, cluster.uuid)}
    for kind in {MAIN, *existing}:
        pair = x509.generate_ca(cluster.name or cluster.uuid,
                                key_size=svc.conf.x509.rsa_key_size,
                                days=svc.conf.x509.term_of_validity, now=utcnow())
        row = existing.get(kind)
        if row is None:
            row = models.CertificateAuthority(cluster_id=cluster.uuid, kind=kind)
            session.add(row)
        row.certificate_pem = pair.certificate_pem
        row.encrypted_private_key = svc.keystore.seal(pair.private_key_pem)
        row.updated_at = utcnow()
