"""A cluster's page and the API beside it, as the cluster-detail browser tests drive them.

``HEADERS`` asks for the latest microversion; ``TEMPLATE`` is the swarm-mode template of the
tests' cluster; ``make_cluster`` creates a 1+1 cluster and waits until it is complete, and
``wait_for``/``wait_gone`` poll the API with a deadline (a *_FAILED cluster ends the wait);
``new_csr`` is a certificate signing request to paste into the page. The administrator's tests
(``test_dashboard_cluster_detail.py``) and the Keystone reader's
(``test_dashboard_cluster_detail_reader.py``) share them.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HEADERS = {"OpenStack-API-Version": "container-infra latest"}
TEMPLATE = {"name": "detail-template", "coe": "swarm-mode", "image_id": "debian-12-docker",
            "external_network_id": "public", "flavor_id": "m1.small",
            "master_flavor_id": "m1.small", "labels": {"purpose": "demo"}}


def wait_for(api: httpx.Client, uuid: str, statuses: tuple[str, ...],
              timeout: float = 180) -> dict[str, Any]:
    """The cluster once its status is one of ``statuses`` (a failure ends the wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cluster: dict[str, Any] = api.get(f"/clusters/{uuid}").json()
        if cluster["status"] in statuses:
            return cluster
        assert not cluster["status"].endswith("FAILED"), cluster
        time.sleep(0.5)
    raise AssertionError(f"cluster {uuid} not {statuses} in {timeout} s")


def wait_gone(api: httpx.Client, path: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.get(path).status_code == 404:
            return
        time.sleep(0.5)
    raise AssertionError(f"{path} still there after {timeout} s")


def make_cluster(api: httpx.Client, template: str, name: str) -> dict[str, Any]:
    created = api.post("/clusters", json={"name": name, "cluster_template_id": template,
                                          "master_count": 1, "node_count": 1})
    assert created.status_code == 202, created.text
    return wait_for(api, created.json()["uuid"], ("CREATE_COMPLETE",))


def new_csr(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()
