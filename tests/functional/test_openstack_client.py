"""The real ``openstack coe`` client (python-magnumclient 5.0.0) against a real ``magna serve``.

One server per database (SQLite, PostgreSQL) for the whole module; the tests run in file order
and build on each other's resources (templates t1..t5, clusters c1/c2, …), each asserting on
what the client printed. The server runs with ``[api] max_limit = 2`` so that ``--limit N``
(N > 2) really makes the client follow ``next`` links across several pages.

Every command of the client-compat sheet (docs: /work/shared/spec/client-compat.md) is run at
least once. Independent invocations run concurrently: each ``openstack`` start costs ~1 s.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support import backing
from tests.support.server import RunningServer, magna_server

OPENSTACK = str(Path(sys.executable).parent / "openstack")

pytestmark = [pytest.mark.client,
              pytest.mark.skipif(not os.path.exists(OPENSTACK),
                                 reason="the openstack client is not installed in this venv")]
TIMEOUT = 90
MAX_LIMIT = 2
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TEMPLATE_ARGS = ("--coe", "swarm-mode", "--image", "debian-12-docker",
                 "--external-network", "public", "--flavor", "m1.small",
                 "--master-flavor", "m1.small")


@dataclass
class Result:
    args: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return parse_json(self.stdout)


@dataclass
class Magna:
    """A running server plus what the tests created on it (shared in file order)."""

    server: RunningServer
    tmp: Path
    db: str
    ids: dict[str, str] = field(default_factory=dict)

    def coe(self, *args: str, ok: bool = True) -> Result:
        """Run ``openstack … coe ARGS``; unless ``ok`` is False, require rc 0 and no traceback."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["SHELL"] = "/bin/bash"
        proc = subprocess.run(
            [OPENSTACK, "--os-auth-type", "none", "--os-endpoint", self.server.endpoint,
             "coe", *args],
            capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=self.tmp)
        result = Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, self.describe(result)
        if ok:
            assert proc.returncode == 0, self.describe(result)
        return result

    def coe_json(self, *args: str) -> Any:
        return self.coe(*args, "-f", "json").json()

    def many(self, *commands: Sequence[str], ok: bool = True) -> list[Result]:
        """Run independent commands concurrently, results in the order given."""
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            return list(pool.map(lambda args: self.coe(*args, ok=ok), commands))

    def describe(self, result: Result) -> str:
        log = self.server.log()[-3000:]
        return (f"[{self.db}] openstack coe {' '.join(result.args)} -> rc {result.rc}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
                f"--- server log (tail)\n{log}")


def parse_json(text: str) -> Any:
    """The JSON document in a command's stdout (some commands print a line before it)."""
    match = re.search(r"^[\[{]", text, re.MULTILINE)
    assert match, f"no JSON in output:\n{text}"
    return json.loads(text[match.start():])


def parse_dict_table(text: str) -> dict[str, str]:
    """``cliutils.print_dict`` output (``| Property | Value |``) as a dict of strings."""
    rows: dict[str, str] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and cells[0] != "Property":
            rows[cells[0]] = cells[1]
    return rows


def parse_list_table(text: str) -> list[dict[str, str]]:
    """``cliutils.print_list`` output as a list of row dicts."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    if not lines:
        return []
    header = [c.strip() for c in lines[0].strip().strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in line.strip().strip("|").split("|")),
                     strict=True)) for line in lines[1:]]


def load_cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def pem_block(text: str) -> str:
    match = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    assert match, f"no PEM certificate in:\n{text}"
    return match.group(0)


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def magna(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Magna]:
    state = tmp_path_factory.mktemp(f"client-{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{state / 'magna.db'}"
        else:
            url = stack.enter_context(backing.postgres_database())
        server = stack.enter_context(
            magna_server(str(state / "server"), url, extra={"api": {"max_limit": MAX_LIMIT}}))
        work = state / "work"
        work.mkdir()
        yield Magna(server, work, request.param)


# --- cluster templates ---------------------------------------------------------------------

def test_template_create(magna: Magna) -> None:
    results = magna.many(
        ("cluster", "template", "create", "t1", *TEMPLATE_ARGS, "--labels", "a=b,c=d",
         "--tags", "x,y", "-f", "json"),
        *[("cluster", "template", "create", name, *TEMPLATE_ARGS, "--labels", "a=b,c=d",
           "-f", "json") for name in ("t2", "t3", "t4", "t5")])
    for name, result in zip(("t1", "t2", "t3", "t4", "t5"), results, strict=True):
        assert result.stdout.startswith(f"Request to create cluster template {name} accepted")
        body = result.json()
        assert body["name"] == name
        assert re.fullmatch(UUID_RE, body["uuid"])
        magna.ids[name] = body["uuid"]
        assert body["coe"] == "swarm-mode"
        assert body["image_id"] == "debian-12-docker"
        assert body["external_network_id"] == "public"
        assert body["flavor_id"] == "m1.small" and body["master_flavor_id"] == "m1.small"
        assert body["labels"] == {"a": "b", "c": "d"}
        assert body["tls_disabled"] is False and body["public"] is False
        assert body["dns_nameserver"] == "8.8.8.8"
        assert body["docker_storage_driver"] == "overlay2"
        assert "links" not in body  # the client removes them; their absence would crash it
    t1 = results[0].json()
    assert set(t1["tags"].split(",")) == {"x", "y"}
    assert len(set(magna.ids.values())) == 5


def test_template_list_and_pagination(magna: Magna) -> None:
    plain, one, all_, by_name = magna.many(
        ("cluster", "template", "list", "-f", "json"),
        ("cluster", "template", "list", "--limit", "1", "-f", "json"),
        ("cluster", "template", "list", "--limit", "5", "-f", "json"),
        ("cluster", "template", "list", "--limit", "4", "--sort-key", "name",
         "--sort-dir", "desc", "-f", "json"))
    names = ["t1", "t2", "t3", "t4", "t5"]
    # The templates were created concurrently, so the default (id) order is theirs to pick.
    # No --limit: one GET, capped by the server's max_limit.
    listed = all_.json()
    order = [t["name"] for t in listed]
    assert [t["name"] for t in plain.json()] == order[:MAX_LIMIT]
    assert [t["name"] for t in one.json()] == order[:1]
    # --limit 5 with max_limit 2: three pages, the client follows the `next` links.
    assert sorted(order) == names
    assert {t["uuid"] for t in listed} == {magna.ids[n] for n in names}
    assert all(set(t) == {"uuid", "name", "tags"} for t in listed)
    t1 = next(t for t in listed if t["name"] == "t1")
    assert set(t1["tags"].split(",")) == {"x", "y"}
    assert [t["name"] for t in by_name.json()] == ["t5", "t4", "t3", "t2"]


def test_template_show_by_name_and_uuid(magna: Magna) -> None:
    by_name, by_uuid = magna.many(("cluster", "template", "show", "t1", "-f", "json"),
                                  ("cluster", "template", "show", magna.ids["t1"], "-f", "json"))
    for result in (by_name, by_uuid):
        body = result.json()
        assert body["uuid"] == magna.ids["t1"] and body["name"] == "t1"
        assert body["labels"] == {"a": "b", "c": "d"}
        assert body["coe"] == "swarm-mode"
        assert body["keypair_id"] == "-"  # null fields print as "-"
    assert by_name.json() == by_uuid.json()


def test_template_update(magna: Magna) -> None:
    body = magna.coe_json("cluster", "template", "update", "t3", "--name", "t3-renamed",
                          "--label", "k=v", "--no-label", "a", "--tag", "z", "--public",
                          "--docker-volume-size", "5")
    assert body["uuid"] == magna.ids["t3"]
    assert body["name"] == "t3-renamed"
    assert body["labels"] == {"c": "d", "k": "v"}
    assert body["tags"] == "z"
    assert body["public"] is True
    assert body["docker_volume_size"] == 5
    shown = magna.coe_json("cluster", "template", "show", magna.ids["t3"])
    assert shown["name"] == "t3-renamed" and shown["labels"] == {"c": "d", "k": "v"}


def test_template_delete(magna: Magna) -> None:
    several, single = magna.many(("cluster", "template", "delete", "t3-renamed", "t4"),
                                 ("cluster", "template", "delete", magna.ids["t5"]))
    assert "Request to delete cluster template t3-renamed has been accepted." in several.stdout
    assert "Request to delete cluster template t4 has been accepted." in several.stdout
    assert f"Request to delete cluster template {magna.ids['t5']} has been accepted." \
        in single.stdout
    remaining, gone = magna.many(("cluster", "template", "list", "--limit", "10", "-f", "json"),
                                 ("cluster", "template", "show", "t4"), ok=False)
    assert remaining.rc == 0
    assert sorted(t["name"] for t in remaining.json()) == ["t1", "t2"]
    assert gone.rc == 1 and "(HTTP 404)" in gone.stderr


# --- clusters -----------------------------------------------------------------------------

def test_cluster_create(magna: Magna) -> None:
    c1, c2 = magna.many(
        ("cluster", "create", "c1", "--cluster-template", "t1", "--node-count", "2",
         "--master-count", "1", "--labels", "x=y", "--merge-labels"),
        ("cluster", "create", "c2", "--cluster-template", magna.ids["t2"]))
    for name, result in (("c1", c1), ("c2", c2)):
        match = re.fullmatch(rf"Request to create cluster ({UUID_RE}) accepted\n", result.stdout)
        assert match, result.stdout
        magna.ids[name] = match.group(1)
    assert magna.ids["c1"] != magna.ids["c2"]


def test_cluster_show(magna: Magna) -> None:
    by_name, by_uuid = magna.many(("cluster", "show", "c1", "-f", "json"),
                                  ("cluster", "show", magna.ids["c2"], "-f", "json"))
    body = by_name.json()
    assert body["uuid"] == magna.ids["c1"] and body["name"] == "c1"
    assert body["cluster_template_id"] == magna.ids["t1"]
    # No conductor exists yet: the cluster is accepted, not built, and must not claim otherwise.
    assert body["status"] == "CREATE_IN_PROGRESS"
    assert not body["status"].endswith("_COMPLETE")
    assert body["health_status"] in (None, "UNKNOWN")
    assert body["api_address"] is None
    assert body["node_addresses"] == [] and body["master_addresses"] == []
    assert body["node_count"] == 2 and body["master_count"] == 1
    assert body["labels"] == {"a": "b", "c": "d", "x": "y"}
    assert body["labels_added"] == {"x": "y"}
    assert body["labels_overridden"] == {} and body["labels_skipped"] == {}
    assert body["flavor_id"] == "m1.small" and body["master_flavor_id"] == "m1.small"
    assert body["create_timeout"] == 60
    assert body["project_id"] == "admin"
    other = by_uuid.json()
    assert other["name"] == "c2" and other["cluster_template_id"] == magna.ids["t2"]
    assert other["node_count"] == 1 and other["labels"] == {"a": "b", "c": "d"}
    assert other["status"] == "CREATE_IN_PROGRESS"


def test_cluster_list(magna: Magna) -> None:
    plain, one, desc = magna.many(
        ("cluster", "list", "-f", "json"),
        ("cluster", "list", "--limit", "1", "-f", "json"),
        ("cluster", "list", "--limit", "3", "--sort-key", "name", "--sort-dir", "desc",
         "-f", "json"))
    rows = plain.json()
    # Created concurrently: the default (id) order is whichever POST won.
    assert sorted(r["name"] for r in rows) == ["c1", "c2"]
    assert all(set(r) == {"uuid", "name", "keypair", "node_count", "master_count", "status",
                          "health_status"} for r in rows)
    c1 = next(r for r in rows if r["name"] == "c1")
    assert c1["uuid"] == magna.ids["c1"] and c1["node_count"] == 2 and c1["master_count"] == 1
    assert all(r["status"] == "CREATE_IN_PROGRESS" for r in rows)
    assert [r["name"] for r in one.json()] == [rows[0]["name"]]
    assert [r["name"] for r in desc.json()] == ["c2", "c1"]


def test_cluster_update_and_rollback(magna: Magna) -> None:
    plain, rollback = magna.many(
        ("cluster", "update", "c1", "--node-count", "3"),
        ("cluster", "update", magna.ids["c2"], "--node-count", "2", "--rollback"))
    assert plain.stdout.strip() == "Request to update cluster c1 has been accepted."
    assert rollback.stdout.strip() == (f"Request to update cluster {magna.ids['c2']} has "
                                       "been accepted.")
    c1, c2 = magna.many(("cluster", "show", "c1", "-f", "json"),
                        ("cluster", "show", "c2", "-f", "json"))
    assert c1.json()["node_count"] == 3 and c1.json()["master_count"] == 1
    assert c2.json()["node_count"] == 2


def test_cluster_resize_and_upgrade(magna: Magna) -> None:
    resized, upgraded = magna.many(
        ("cluster", "resize", "c1", "4", "--nodes-to-remove", "n1"),
        ("cluster", "upgrade", "c2", "t1", "--max-batch-size", "2"))
    assert resized.stdout.strip() == "Request to resize cluster c1 has been accepted."
    assert upgraded.stdout.strip() == "Request to upgrade cluster c2 has been accepted."
    c1, c2 = magna.many(("cluster", "show", "c1", "-f", "json"),
                        ("cluster", "show", "c2", "-f", "json"))
    assert c1.json()["node_count"] == 4 and c1.json()["master_count"] == 1
    assert c2.json()["cluster_template_id"] == magna.ids["t1"]
    assert not c2.json()["status"].endswith("_COMPLETE")


# --- cluster config and certificates ------------------------------------------------------

def test_cluster_config(magna: Magna) -> None:
    plain_dir, certs_dir, keystone_dir = (magna.tmp / "config-plain", magna.tmp / "config-certs",
                                          magna.tmp / "config-keystone")
    for where in (plain_dir, certs_dir, keystone_dir):
        where.mkdir()
    plain, certs, keystone = magna.many(
        ("cluster", "config", "c1", "--dir", str(plain_dir)),
        ("cluster", "config", magna.ids["c1"], "--dir", str(certs_dir), "--output-certs"),
        ("cluster", "config", "c1", "--dir", str(keystone_dir), "--output-certs",
         "--use-keystone"))
    for result, where in ((plain, plain_dir), (certs, certs_dir), (keystone, keystone_dir)):
        # api_address stays null until a driver deploys the cluster: the client warns and
        # prints the literal "None".
        assert "The cluster's api_address is not known yet." in result.stderr
        assert result.stdout.rstrip("\n").splitlines() == [
            "export DOCKER_HOST=None", f"export DOCKER_CERT_PATH={where}",
            "export DOCKER_TLS_VERIFY=True"]
    assert list(plain_dir.iterdir()) == []  # swarm writes nothing without --output-certs
    assert sorted(p.name for p in certs_dir.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
    # --use-keystone: no client certificate is requested, only the CA is written.
    assert sorted(p.name for p in keystone_dir.iterdir()) == ["ca.pem"]
    ca = load_cert((certs_dir / "ca.pem").read_text())
    assert load_cert((keystone_dir / "ca.pem").read_text()) == ca
    cert = load_cert((certs_dir / "cert.pem").read_text())
    cert.verify_directly_issued_by(ca)
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "admin"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == \
        "system:masters"
    key = serialization.load_pem_private_key((certs_dir / "key.pem").read_bytes(), None)
    assert key.public_key() == cert.public_key()
    magna.ids["ca-from-config"] = (certs_dir / "ca.pem").read_text()

    # Files exist now: without --force the client refuses to overwrite them; with it, it
    # fetches a fresh client certificate.
    again = magna.coe("cluster", "config", "c1", "--dir", str(certs_dir), "--output-certs",
                      ok=False)
    assert again.rc == 1 and "exists, aborting" in again.stderr
    magna.coe("cluster", "config", "c1", "--dir", str(certs_dir), "--output-certs", "--force")
    renewed = load_cert((certs_dir / "cert.pem").read_text())
    assert renewed.serial_number != cert.serial_number
    renewed.verify_directly_issued_by(ca)


def make_csr(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tester"),
                                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "testers")]))
           .sign(key, hashes.SHA256()))
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))


def test_ca_show_sign_rotate(magna: Magna) -> None:
    csr_path = magna.tmp / "tester.csr"
    make_csr(csr_path)
    shown, signed = magna.many(("ca", "show", "c1"), ("ca", "sign", magna.ids["c1"],
                                                      str(csr_path)))
    ca_pem = pem_block(shown.stdout)
    ca = load_cert(ca_pem)
    assert ca.subject == ca.issuer  # self-signed CA
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    if "ca-from-config" in magna.ids:
        assert load_cert(magna.ids["ca-from-config"]) == ca
    cert = load_cert(pem_block(signed.stdout))
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "tester"
    assert cert.not_valid_after_utc > dt.datetime.now(dt.UTC)

    rotated = magna.coe("ca", "rotate", "c1")
    assert rotated.stdout.strip() == (f"Request to rotate the CA certificate for cluster "
                                      f"{magna.ids['c1']} has been accepted.")
    new_ca = load_cert(pem_block(magna.coe("ca", "show", "c1").stdout))
    assert new_ca != ca
    assert new_ca.public_key() != ca.public_key()
    with pytest.raises((ValueError, InvalidSignature)):
        cert.verify_directly_issued_by(new_ca)


def test_credential_rotate_not_supported(magna: Magna) -> None:
    result = magna.coe("credential", "rotate", "c1")
    # magnumclient catches the error, prints it and exits 0.
    # The error title is the message's first sentence, as upstream (no final period).
    assert result.stdout.startswith(
        "Credential rotation failed: Credential rotation is not supported by driver "
        "(HTTP 400)"), result.stdout


# --- services and stats (before the nodegroup test changes node counts) ---------------------

def test_service_list_and_stats(magna: Magna) -> None:
    services, stats = magna.many(("service", "list", "-f", "json"),
                                 ("stats", "list", "admin"))
    listed = services.json()
    assert isinstance(listed, list)
    for service in listed:
        assert service["binary"] == "magnum-conductor"
        assert service["state"] in ("up", "down")
    values = parse_dict_table(stats.stdout)
    # c1: 1 master + 4 workers; c2: 1 master + 2 workers.
    assert values == {"clusters": "2", "nodes": "8"}, stats.stdout
    other = parse_dict_table(magna.coe("stats", "list", "nobody").stdout)
    assert other == {"clusters": "0", "nodes": "0"}


# --- nodegroups ---------------------------------------------------------------------------

def test_nodegroups(magna: Magna) -> None:
    created = magna.coe("nodegroup", "create", "c1", "ng1", "--node-count", "2",
                        "--min-nodes", "1", "--max-nodes", "5", "--flavor", "m1.small",
                        "--node-labels", "env=dev", "--node-taints", "dedicated=gpu:NoSchedule")
    match = re.fullmatch(rf"Request to create nodegroup ({UUID_RE}) accepted\n", created.stdout)
    assert match, created.stdout
    ng_uuid = match.group(1)

    listed, by_name, workers, shown = magna.many(
        ("nodegroup", "list", "c1", "--limit", "10", "-f", "json"),
        ("nodegroup", "list", "c1", "--limit", "3", "--sort-key", "name", "--sort-dir",
         "desc", "-f", "json"),
        ("nodegroup", "list", magna.ids["c1"], "--role", "worker", "--limit", "10",
         "-f", "json"),
        ("nodegroup", "show", "c1", "ng1", "-f", "json"))
    rows = {r["name"]: r for r in listed.json()}
    assert set(rows) == {"default-master", "default-worker", "ng1"}
    assert rows["default-master"]["role"] == "master"
    assert rows["default-master"]["node_count"] == 1
    assert rows["default-worker"]["node_count"] == 4
    assert rows["ng1"]["uuid"] == ng_uuid and rows["ng1"]["node_count"] == 2
    assert rows["ng1"]["flavor_id"] == "m1.small" and rows["ng1"]["role"] == "worker"
    assert [r["name"] for r in by_name.json()] == ["ng1", "default-worker", "default-master"]
    assert {r["name"] for r in workers.json()} == {"default-worker", "ng1"}
    body = shown.json()
    assert body["uuid"] == ng_uuid and body["cluster_id"] == magna.ids["c1"]
    assert body["min_node_count"] == 1 and body["max_node_count"] == 5
    assert body["is_default"] is False
    assert body["node_labels"] == {"env": "dev"}
    assert body["node_taints"] == [{"key": "dedicated", "value": "gpu",
                                    "effect": "NoSchedule"}]

    updated = magna.coe("nodegroup", "update", "c1", "ng1", "--min-nodes", "0",
                        "--max-nodes", "4", "--node-labels", "env=prod,tier=web",
                        "--node-taints", "only:NoExecute")
    assert "has been accepted" in updated.stdout
    resized = magna.coe("cluster", "resize", "c1", "3", "--nodegroup", "ng1")
    assert resized.stdout.strip() == "Request to resize cluster c1 has been accepted."
    body = magna.coe_json("nodegroup", "show", "c1", ng_uuid)
    assert body["name"] == "ng1" and body["node_count"] == 3
    assert body["min_node_count"] == 0 and body["max_node_count"] == 4
    assert body["node_labels"] == {"env": "prod", "tier": "web"}
    assert body["node_taints"] == [{"key": "only", "value": "", "effect": "NoExecute"}]

    deleted = magna.coe("nodegroup", "delete", "c1", "ng1")
    assert deleted.stdout.strip() == "Request to delete nodegroup ng1 has been accepted."
    after = {r["name"]: r for r in
             magna.coe_json("nodegroup", "list", "c1", "--limit", "10")}
    # Without a conductor the row stays, marked for deletion (gone once a conductor runs).
    assert "ng1" not in after or after["ng1"]["status"] == "DELETE_IN_PROGRESS"
    assert {"default-master", "default-worker"} <= set(after)


# --- quotas -------------------------------------------------------------------------------

def test_quotas(magna: Magna) -> None:
    first, second = magna.many(
        ("quotas", "create", "--project-id", "proj-a", "--resource", "Cluster",
         "--hard-limit", "5"),
        ("quotas", "create", "--project-id", "proj-b", "--resource", "Cluster",
         "--hard-limit", "3"))
    for result, project, limit in ((first, "proj-a", "5"), (second, "proj-b", "3")):
        assert "failed" not in result.stdout, result.stdout
        values = parse_dict_table(result.stdout)
        assert values["project_id"] == project and values["resource"] == "Cluster"
        assert values["hard_limit"] == limit
        assert values["id"].isdigit()

    all_tenants, paged, own, shown, duplicate, updated = magna.many(
        ("quotas", "list", "--all-tenants"),
        ("quotas", "list", "--all-tenants", "--limit", "1", "--sort-key", "project_id",
         "--sort-dir", "desc"),
        ("quotas", "list"),
        ("quotas", "show", "--project-id", "proj-a", "--resource", "Cluster"),
        ("quotas", "create", "--project-id", "proj-a", "--resource", "Cluster"),
        ("quotas", "update", "--project-id", "proj-b", "--resource", "Cluster",
         "--hard-limit", "7"))
    rows = parse_list_table(all_tenants.stdout)
    assert sorted((r["project_id"], r["resource"]) for r in rows) == [
        ("proj-a", "Cluster"), ("proj-b", "Cluster")]
    assert next(r for r in rows if r["project_id"] == "proj-a")["hard_limit"] == "5"
    assert [r["project_id"] for r in parse_list_table(paged.stdout)] == ["proj-b"]
    assert parse_list_table(own.stdout) == []  # the admin's own project has no quota rows
    assert parse_dict_table(shown.stdout)["hard_limit"] == "5"
    assert duplicate.stdout.startswith("Create quota for project_id proj-a resource Cluster "
                                       "failed:")
    assert "already exists" in duplicate.stdout and "(HTTP 409)" in duplicate.stdout
    assert "failed" not in updated.stdout, updated.stdout
    assert parse_dict_table(updated.stdout)["hard_limit"] == "7"

    deleted, shown_b = magna.many(
        ("quotas", "delete", "--project-id", "proj-a", "--resource", "Cluster"),
        ("quotas", "show", "--project-id", "proj-b", "--resource", "Cluster"))
    assert deleted.stdout.strip() == ("Request to delete quota for project id proj-a and "
                                      "resource Cluster has been accepted.")
    assert parse_dict_table(shown_b.stdout)["hard_limit"] == "7"
    default = parse_dict_table(magna.coe("quotas", "show", "--project-id", "proj-a",
                                         "--resource", "Cluster").stdout)
    # No row any more: the server answers the configured default, without id.
    assert default["hard_limit"] == "20" and "id" not in default


# --- deletion and error paths -------------------------------------------------------------

def test_error_paths(magna: Magna) -> None:
    missing, bad_image, bad_ng, bad_update, default_ng = magna.many(
        ("cluster", "show", "does-not-exist"),
        ("cluster", "template", "create", "bad", "--coe", "swarm-mode", "--image", "nope",
         "--external-network", "public"),
        ("nodegroup", "show", "does-not-exist", "ng"),
        ("cluster", "update", "c1", "--name", "renamed"),
        ("nodegroup", "delete", "c1", "default-worker"),
        ok=False)
    assert missing.rc == 1
    assert "Cluster does-not-exist could not be found (HTTP 404)" in missing.stderr
    assert bad_image.rc == 1
    assert "Image nope could not be found" in bad_image.stderr
    assert "(HTTP 400)" in bad_image.stderr
    assert bad_ng.rc == 1 and "(HTTP 404)" in bad_ng.stderr
    # Only node_count may change through PATCH /v1/clusters (upstream's message).
    assert bad_update.rc == 1
    assert "cannot change cluster property(ies) name (HTTP 400)" in bad_update.stderr
    assert default_ng.rc == 1
    assert "Deleting a default nodegroup is not supported (HTTP 400)" in default_ng.stderr


def test_cluster_delete(magna: Magna) -> None:
    result = magna.coe("cluster", "delete", "c1", magna.ids["c2"])
    assert "Request to delete cluster c1 has been accepted." in result.stdout
    assert f"Request to delete cluster {magna.ids['c2']} has been accepted." in result.stdout
    c1, c2, in_use = magna.many(("cluster", "show", "c1", "-f", "json"),
                                ("cluster", "show", "c2", "-f", "json"),
                                ("cluster", "template", "delete", "t1"), ok=False)
    # No conductor yet: the rows stay, marked for deletion.
    assert c1.rc == 0 and c1.json()["status"] == "DELETE_IN_PROGRESS"
    assert c2.rc == 0 and c2.json()["status"] == "DELETE_IN_PROGRESS"
    # t1 is still referenced by both clusters; the client reports it on stdout, rc 0.
    assert in_use.rc == 0
    assert in_use.stdout.startswith("Delete for cluster template t1 failed: ClusterTemplate "
                                    f"{magna.ids['t1']} is referenced by one or multiple "
                                    "clusters (HTTP 400)"), in_use.stdout
