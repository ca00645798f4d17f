"""User stories for ``/v1/certificates``: fetch a cluster's CA, sign a CSR, rotate the CA.

Certificates are checked cryptographically: what POST returns must be issued by the CA that GET
returns, and after a rotation it must no longer be.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from oslo_config import cfg
from sqlalchemy import select
from starlette.testclient import TestClient

from magna.api.app import create_app
from magna.cmd.compose import build_services
from magna.crypto.x509 import make_csr, new_key
from magna.db import models
from magna.services import Services
from tests.support.api import ApiClient, assert_error, make_cluster, make_template

# verify_directly_issued_by: a wrong issuer name or a wrong signature.
NOT_ISSUED = (ValueError, InvalidSignature)
OCTET = {"Content-Type": "application/octet-stream", "Accept": "*/*"}


@dataclass
class Env:
    admin: ApiClient
    owner: ApiClient
    svc: Services
    nudges: list[str]
    cluster: str

    def set_cluster_status(self, status: str) -> None:
        with self.svc.transaction() as session:
            row = session.scalars(select(models.Cluster)
                                  .where(models.Cluster.uuid == self.cluster)).one()
            row.status = status

    def cluster_row(self) -> models.Cluster:
        with self.svc.transaction() as session:
            return session.scalars(select(models.Cluster)
                                   .where(models.Cluster.uuid == self.cluster)).one()


@pytest.fixture
def key() -> rsa.RSAPrivateKey:
    return new_key(2048)


@pytest.fixture
def env(conf: cfg.ConfigOpts) -> Iterator[Env]:
    svc = build_services(conf)
    nudges: list[str] = []
    svc.nudge = nudges.append
    with TestClient(create_app(conf, svc)) as client:
        admin = ApiClient(client)
        owner = admin.as_user("p1", user="alice")
        template = make_template(owner)
        cluster = make_cluster(owner, template["uuid"])
        nudges.clear()
        yield Env(admin, owner, svc, nudges, cluster)


def ca_of(api: ApiClient, cluster: str, query: str = "") -> x509.Certificate:
    response = api.get(f"/v1/certificates/{cluster}{query}")
    assert response.status_code == 200, response.text
    return x509.load_pem_x509_certificate(response.json()["pem"].encode())


def sign(api: ApiClient, cluster: str, csr: str, **extra: str) -> x509.Certificate:
    response = api.post("/v1/certificates", json={"cluster_uuid": cluster, "csr": csr, **extra})
    assert response.status_code == 201, response.text
    return x509.load_pem_x509_certificate(response.json()["pem"].encode())


def csr_with(key: rsa.RSAPrivateKey, extension: x509.ExtensionType, *, critical: bool) -> str:
    from cryptography.hazmat.primitives import serialization

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sub")])
    csr = (x509.CertificateSigningRequestBuilder().subject_name(name)
           .add_extension(extension, critical=critical).sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


# --- GET -------------------------------------------------------------------------------------

def test_get_returns_the_cluster_ca_with_links(env: Env) -> None:
    for ident in (env.cluster, "cluster1"):
        response = env.owner.get(f"/v1/certificates/{ident}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"cluster_uuid", "pem", "links"}
        assert body["cluster_uuid"] == env.cluster
        assert body["links"][0] == {"href": f"http://testserver/v1/certificates/{env.cluster}",
                                    "rel": "self"}
        assert body["links"][1] == {"href": f"http://testserver/certificates/{env.cluster}",
                                    "rel": "bookmark"}
    ca = ca_of(env.owner, env.cluster)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "cluster1"


def test_get_selects_the_auxiliary_cas(env: Env) -> None:
    main = ca_of(env.owner, env.cluster)
    etcd = ca_of(env.owner, env.cluster, "?ca_cert_type=etcd")
    proxy = ca_of(env.owner, env.cluster, "?ca_cert_type=front_proxy")
    assert len({main.serial_number, etcd.serial_number, proxy.serial_number}) == 3
    assert ca_of(env.owner, env.cluster, "?ca_cert_type=front-proxy") == proxy
    assert ca_of(env.owner, env.cluster, "?ca_cert_type=etcd") == etcd
    assert_error(env.owner.get(f"/v1/certificates/{env.cluster}?ca_cert_type=kubelet"), 400,
                 "Invalid ca_cert_type kubelet")


def test_get_of_an_unknown_cluster_is_404(env: Env) -> None:
    assert_error(env.owner.get("/v1/certificates/nope"), 404, "Cluster nope could not be found.")


def test_get_is_for_the_creator_and_admins_only(env: Env) -> None:
    colleague = env.admin.as_user("p1", user="bob")
    assert_error(colleague.get(f"/v1/certificates/{env.cluster}"), 403,
                 "Policy doesn't allow certificate:get to be performed.")
    reader = env.admin.as_user("p1", roles="reader", user="alice")
    assert reader.get(f"/v1/certificates/{env.cluster}").status_code == 200
    stranger = env.admin.as_user("p2", user="alice")
    assert_error(stranger.get(f"/v1/certificates/{env.cluster}"), 404, "could not be found")
    assert env.admin.get(f"/v1/certificates/{env.cluster}").status_code == 200


# --- POST (sign) -----------------------------------------------------------------------------

def test_sign_issues_a_certificate_from_the_cluster_ca(env: Env, key: rsa.RSAPrivateKey
                                                         ) -> None:
    csr = make_csr(common_name="admin", organization="system:masters", key=key)
    response = env.owner.post("/v1/certificates", json={"cluster_uuid": "cluster1", "csr": csr})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"cluster_uuid", "csr", "pem", "links"}
    assert (body["cluster_uuid"], body["csr"]) == (env.cluster, csr)
    assert body["links"][0]["href"].endswith(f"/v1/certificates/{env.cluster}")
    cert = x509.load_pem_x509_certificate(body["pem"].encode())
    cert.verify_directly_issued_by(ca_of(env.owner, env.cluster))
    assert cert.subject == x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "admin"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters")])
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == key.public_key().public_numbers()
    assert not cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


def test_sign_with_an_auxiliary_ca(env: Env, key: rsa.RSAPrivateKey) -> None:
    csr = make_csr(common_name="etcd-client", organization=None, key=key)
    cert = sign(env.owner, env.cluster, csr, ca_cert_type="etcd")
    cert.verify_directly_issued_by(ca_of(env.owner, env.cluster, "?ca_cert_type=etcd"))
    with pytest.raises(NOT_ISSUED):
        cert.verify_directly_issued_by(ca_of(env.owner, env.cluster))


def test_sign_accepts_the_legacy_bay_uuid(env: Env, key: rsa.RSAPrivateKey) -> None:
    csr = make_csr(common_name="old", organization=None, key=key)
    response = env.owner.post("/v1/certificates", json={"bay_uuid": env.cluster, "csr": csr})
    assert response.status_code == 201, response.text


def test_sign_strips_a_non_critical_ca_request(env: Env, key: rsa.RSAPrivateKey) -> None:
    csr = csr_with(key, x509.BasicConstraints(ca=True, path_length=None), critical=False)
    cert = sign(env.owner, env.cluster, csr)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(ca_of(env.owner, env.cluster))


def test_sign_refuses_a_critical_ca_request(env: Env, key: rsa.RSAPrivateKey) -> None:
    csr = csr_with(key, x509.BasicConstraints(ca=True, path_length=None), critical=True)
    response = env.owner.post("/v1/certificates", json={"cluster_uuid": env.cluster, "csr": csr})
    assert_error(response, 400, "basicConstraints")


def test_sign_refuses_a_disallowed_critical_extension(env: Env, key: rsa.RSAPrivateKey
                                                      ) -> None:
    csr = csr_with(key, x509.OCSPNoCheck(), critical=True)
    response = env.owner.post("/v1/certificates", json={"cluster_uuid": env.cluster, "csr": csr})
    assert_error(response, 400, "not allowed")


@pytest.mark.parametrize(("body", "fragment"), [
    ({"cluster_uuid": "nope", "csr": "x"}, "Cluster nope could not be found."),
    ({"cluster_uuid": "cluster1"}, "Invalid input for field/attribute csr. Value: 'None'. "
                                   "Mandatory field missing."),
    ({"csr": "x"}, "cluster_uuid"),
    ({"cluster_uuid": "cluster1", "csr": "not a csr"}, "Received invalid csr"),
    ({"cluster_uuid": "cluster1", "csr": ""}, "csr"),
    ({"cluster_uuid": "cluster1", "csr": 5}, "csr"),
    ({"cluster_uuid": "cluster1", "csr": "x", "extra": 1}, "Unknown attribute"),
])
def test_sign_rejects_bad_requests_with_400(env: Env, body: dict[str, object],
                                            fragment: str) -> None:
    assert_error(env.owner.post("/v1/certificates", json=body), 400, fragment)


def test_sign_rejects_a_csr_with_a_forged_signature(env: Env, key: rsa.RSAPrivateKey) -> None:
    csr = make_csr(common_name="admin", organization=None, key=key)
    lines = csr.splitlines()
    middle = len(lines) // 2
    lines[middle] = lines[middle][:10] + ("A" if lines[middle][10] != "A" else "B") + \
        lines[middle][11:]
    response = env.owner.post("/v1/certificates",
                              json={"cluster_uuid": env.cluster, "csr": "\n".join(lines)})
    assert_error(response, 400, "Received invalid csr")


def test_sign_is_for_the_creating_member_and_admins_only(env: Env, key: rsa.RSAPrivateKey
                                                         ) -> None:
    csr = make_csr(common_name="admin", organization=None, key=key)
    body = {"cluster_uuid": env.cluster, "csr": csr}
    colleague = env.admin.as_user("p1", user="bob")
    assert_error(colleague.post("/v1/certificates", json=body), 403,
                 "Policy doesn't allow certificate:create to be performed.")
    reader = env.admin.as_user("p1", roles="reader", user="alice")
    assert_error(reader.post("/v1/certificates", json=body), 403, "certificate:create")
    stranger = env.admin.as_user("p2", user="alice")
    assert_error(stranger.post("/v1/certificates", json=body), 400,
                 f"Cluster {env.cluster} could not be found.")
    assert env.admin.post("/v1/certificates", json=body).status_code == 201


def test_get_and_sign_still_work_while_the_cluster_is_deleted(env: Env,
                                                              key: rsa.RSAPrivateKey) -> None:
    assert env.owner.delete(f"/v1/clusters/{env.cluster}").status_code == 204
    csr = make_csr(common_name="admin", organization=None, key=key)
    sign(env.owner, env.cluster, csr).verify_directly_issued_by(ca_of(env.owner, env.cluster))


# --- PATCH (rotate) --------------------------------------------------------------------------

def test_rotate_replaces_every_ca_and_records_an_update(env: Env,
                                                        key: rsa.RSAPrivateKey) -> None:
    env.set_cluster_status("CREATE_COMPLETE")
    generation = env.cluster_row().generation
    old_ca = ca_of(env.owner, env.cluster)
    old_etcd = ca_of(env.owner, env.cluster, "?ca_cert_type=etcd")
    old_cert = sign(env.owner, env.cluster,
                    make_csr(common_name="admin", organization=None, key=key))
    old_cert.verify_directly_issued_by(old_ca)
    response = env.owner.patch(f"/v1/certificates/{env.cluster}", headers=OCTET)
    assert response.status_code == 202, response.text
    assert response.json() == {"uuid": env.cluster}
    new_ca = ca_of(env.owner, env.cluster)
    assert new_ca.serial_number != old_ca.serial_number
    assert ca_of(env.owner, env.cluster, "?ca_cert_type=etcd") != old_etcd
    with pytest.raises(NOT_ISSUED):
        old_cert.verify_directly_issued_by(new_ca)
    sign(env.owner, env.cluster, make_csr(common_name="admin", organization=None, key=key)
         ).verify_directly_issued_by(new_ca)
    cluster = env.cluster_row()
    assert (cluster.status, cluster.generation) == ("UPDATE_IN_PROGRESS", generation + 1)
    assert env.nudges == [env.cluster]


def test_rotate_by_name_with_a_json_client(env: Env) -> None:
    response = env.owner.patch("/v1/certificates/cluster1")
    assert response.status_code == 202, response.text
    assert response.json() == {"uuid": env.cluster}


def test_rotate_on_a_non_tls_cluster_is_400(env: Env) -> None:
    template = make_template(env.owner, name="plain", tls_disabled=True)
    cluster = make_cluster(env.owner, template["uuid"], name="plain")
    before = ca_of(env.owner, cluster)
    env.nudges.clear()
    response = env.owner.patch(f"/v1/certificates/{cluster}", headers=OCTET)
    assert_error(response, 400,
                 "Rotating the CA certificate on a non-TLS cluster is not supported")
    assert ca_of(env.owner, cluster) == before
    assert env.nudges == []


def test_rotate_on_a_cluster_being_deleted_is_400(env: Env) -> None:
    assert env.owner.delete(f"/v1/clusters/{env.cluster}").status_code == 204
    response = env.owner.patch(f"/v1/certificates/{env.cluster}", headers=OCTET)
    assert_error(response, 400, "DELETE_IN_PROGRESS")


def test_rotate_policy(env: Env) -> None:
    path = f"/v1/certificates/{env.cluster}"
    reader = env.admin.as_user("p1", roles="reader", user="alice")
    assert_error(reader.patch(path, headers=OCTET), 403,
                 "Policy doesn't allow certificate:rotate_ca to be performed.")
    assert_error(env.admin.as_user("p2").patch(path, headers=OCTET), 404, "could not be found")
    assert_error(env.owner.patch("/v1/certificates/nope", headers=OCTET), 404,
                 "Cluster nope could not be found.")
    colleague = env.admin.as_user("p1", user="bob")
    assert colleague.patch(path, headers=OCTET).status_code == 202
    assert env.admin.patch(path, headers=OCTET).status_code == 202
