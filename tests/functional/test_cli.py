"""The ``magna`` command line against a real ``magna serve`` process (fake driver, fast sweeps).

One server for the module; tests run in file order and build on each other (keypair k1,
templates t1/bm1, clusters c1/bay1, …). Commands run in this process through ``magna``'s own
entry point (the same code ``python -m magna`` runs, without a second of start-up each) and talk
to the server over HTTP; a few run as real subprocesses where the process boundary is the point
(exit codes, a terminal for the live progress line). Every registered command name is run at
least once: the last test checks that.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import create_engine, delete
from sqlalchemy.orm import Session

from magna.cli import app
from magna.cli.commands import kube_objects
from magna.cli.registry import COMMANDS
from magna.client import tlsconfig
from magna.cmd import magna as magna_cmd
from magna.db import engine as db_engine
from magna.db import models
from tests.support.fake_driver import held, nodes_on_disk
from tests.support.server import RunningServer, magna_server

SERVER_CONFIG: dict[str, dict[str, object]] = {
    "drivers": {"enabled_drivers": "fake,local-swarm"},
    "conductor": {"sweep_interval": 0.3, "heartbeat_interval": 0.5, "health_interval": 0.5},
}
TEMPLATE = ("--coe", "swarm-mode", "--image-id", "fake-image", "--external-network-id", "public",
            "--flavor-id", "m1.small", "--dns-nameserver", "8.8.8.8")
SERVER_COMMANDS = {"serve", "db upgrade", "help", "complete", "bash-completion"}


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Cli:
    server: RunningServer
    state_dir: str
    tmp: Path
    ran: set[str] = field(default_factory=set)

    def __call__(self, *words: str, rc: int = 0) -> Result:
        args = (*words[0].split(), *words[1:])  # "cluster show" may come as one word
        self.ran.update(name for name in [*COMMANDS, *SERVER_COMMANDS]
                        if list(args[:len(name.split())]) == name.split())
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = app.main(["--magna-url", self.server.url, *args])
            except SystemExit as exc:  # argparse usage errors
                code = int(exc.code or 0)
        result = Result(code, out.getvalue(), err.getvalue())
        assert "Traceback" not in result.stderr, result
        assert result.rc == rc, result
        return result

    def json(self, *args: str) -> Any:
        return self(*args, "-f", "json").json()

    def api(self, path: str) -> Any:
        return httpx.get(self.server.url + "/v1" + path, timeout=30).json()


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    tmp = tmp_path_factory.mktemp("cli")
    state = str(tmp / "state")
    original = app.MagnaApp.poll_interval
    app.MagnaApp.poll_interval = 0.2
    try:
        with magna_server(state, extra=SERVER_CONFIG) as server:
            yield Cli(server, state, tmp)
    finally:
        app.MagnaApp.poll_interval = original


def read_until(fd: int, wanted: bytes, timeout: float) -> bytes:
    """What a terminal's ``fd`` shows until ``wanted`` has appeared."""
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{wanted!r} not shown within {timeout}s: {seen!r}"
        if select.select([fd], [], [], left)[0]:
            seen += os.read(fd, 65536)
    return seen


def public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode() + " me@host"


# --- keypairs --------------------------------------------------------------------------------

def test_keypairs(cli: Cli) -> None:
    (cli.tmp / "k1.pub").write_text(public_key() + "\n")
    (cli.tmp / "bad.pub").write_text("ssh-rsa not-base64\n")
    made = cli.json("keypair-create", "k1", "--pub-key", str(cli.tmp / "k1.pub"))
    assert made["name"] == "k1" and made["fingerprint"].startswith("SHA256:")
    assert made["public_key"] == (cli.tmp / "k1.pub").read_text().strip()
    # Stored where the local driver's catalog reads keys, and in the fake driver's.
    assert Path(cli.state_dir, "keypairs", "k1.pub").exists()
    cli("keypair", "create", "k2", "--pub-key", str(cli.tmp / "k1.pub"))
    assert cli("keypair show", "k2", "-f", "value", "-c", "name").stdout.strip() == "k2"
    assert cli.json("keypair-show", "fake-key")["name"] == "fake-key"  # the fake's built-in
    names = cli("keypair-list", "-f", "value", "-c", "name").stdout.split()
    assert names == ["fake-key", "k1", "k2"]
    dup = cli("keypair-create", "k1", "--pub-key", str(cli.tmp / "k1.pub"), rc=1)
    assert dup.stderr == "ERROR: Key pair 'k1' already exists. (HTTP 409)\n"
    bad = cli("keypair-create", "k3", "--pub-key", str(cli.tmp / "bad.pub"), rc=1)
    assert bad.stderr.startswith("ERROR: Keypair data is invalid") and "(HTTP 400)" in bad.stderr
    badname = cli("keypair-create", "../x", "--pub-key", str(cli.tmp / "k1.pub"), rc=1)
    assert "Keypair name '../x' is invalid" in badname.stderr
    cli("keypair delete", "k2")
    assert cli("keypair-delete", "k2", rc=1).stderr == \
        "ERROR: Keypair k2 could not be found. (HTTP 404)\n"
    assert "k2" not in cli("keypair list").stdout


# --- cluster templates -----------------------------------------------------------------------

def test_templates_in_both_spellings(cli: Cli) -> None:
    legacy = cli.json("baymodel-create", "--name", "bm1", *TEMPLATE, "--keypair-id", "k1",
                      "--labels", "a=b,c=d")
    assert legacy["name"] == "bm1" and legacy["keypair_id"] == "k1"
    assert legacy["labels"] == {"a": "b", "c": "d"} and legacy["dns_nameserver"] == "8.8.8.8"
    modern = cli.json("cluster template create", "t1", "--coe", "swarm-mode", "--image",
                      "fake-image", "--external-network", "public", "--flavor", "m1.small",
                      "--keypair", "k1", "--labels", "x=1", "--labels", "y=2")
    assert modern["labels"] == {"x": "1", "y": "2"} and modern["flavor_id"] == "m1.small"
    cli("cluster-template-create", "--name", "t2", *TEMPLATE)
    cli("cluster-template-create", "--name", "tls-off", *TEMPLATE, "--tls-disabled")
    kube = cli.json("cluster template create", "kube", *TEMPLATE[2:], "--coe", "kubernetes")
    assert kube["coe"] == "kubernetes"
    # Both views list the same table.
    assert {"bm1", "t1", "t2"} <= set(cli("baymodel-list", "-f", "value", "-c", "name")
                                      .stdout.split())
    rows = cli.json("cluster-template-list")
    assert {r["name"] for r in rows} == {"bm1", "t1", "t2", "tls-off", "kube"}
    assert set(rows[0]) == {"uuid", "name", "coe", "image_id", "public"}
    assert cli("baymodel-show", "bm1", "-f", "value", "-c", "coe").stdout == "swarm-mode\n"
    assert cli.json("cluster-template-show", "t1")["uuid"] == modern["uuid"]
    assert cli.json("cluster template show", "t2")["name"] == "t2"
    updated = cli.json("baymodel-update", "bm1", "replace", "dns_nameserver=1.1.1.1")
    assert updated["dns_nameserver"] == "1.1.1.1"
    relabeled = cli.json("cluster template update", "t2", "replace", "labels=k=v,w=z")
    assert relabeled["labels"] == {"k": "v", "w": "z"}
    removed = cli.json("cluster-template-update", "t2", "remove", "labels")
    assert removed["labels"] == {}
    # Bad input: the server's message, not a traceback.
    missing = cli("cluster template create", "t9", "--coe", "swarm-mode", "--image", "nope",
                  rc=1)
    assert missing.stderr == "ERROR: Image nope could not be found. (HTTP 400)\n"
    usage = cli("bay-update", "x", "frobnicate", "a=b", rc=2)
    assert "invalid choice: 'frobnicate'" in usage.stderr


# --- clusters: create, --wait, update, resize, upgrade ----------------------------------------

def test_bay_create_wait_and_legacy_views(cli: Cli) -> None:
    created = cli("bay-create", "--name", "bay1", "--baymodel", "bm1", "--node-count", "1",
                  "--wait")
    uuid = created.stdout.split()[4]
    assert created.stdout == f"Request to create bay {uuid} has been accepted.\n"
    # Plain progress lines (stderr is not a terminal), the last one the goal.
    lines = created.stderr.splitlines()
    assert lines[-1].startswith("bay1: CREATE_COMPLETE  nodes 2/2"), lines
    assert all(line.startswith("bay1: CREATE_") for line in lines), lines
    assert len(nodes_on_disk(cli.state_dir, uuid)) == 2
    listed = cli.json("bay-list")
    assert listed == [{"uuid": uuid, "name": "bay1", "node_count": 1, "master_count": 1,
                       "status": "CREATE_COMPLETE"}]
    shown = cli.json("bay-show", "bay1")
    assert shown["baymodel_id"] == cli.json("baymodel-show", "bm1")["uuid"]
    assert cli("bay-show", "bay1", "-f", "value", "-c", "status").stdout == "CREATE_COMPLETE\n"
    assert "| status" in cli("bay-show", "bay1").stdout  # a table for people
    assert yaml.safe_load(cli("bay-show", "bay1", "-f", "yaml").stdout)["uuid"] == uuid
    assert cli("bay-list", "-f", "csv", "-c", "name", "-c", "status").stdout.splitlines() == [
        '"name","status"', '"bay1","CREATE_COMPLETE"']

    updated = cli("bay-update", "bay1", "replace", "node_count=2", "--wait")
    assert updated.stdout == "Request to update bay bay1 has been accepted.\n"
    assert updated.stderr.splitlines()[-1].startswith("bay1: UPDATE_COMPLETE  nodes 3/3")
    assert len(nodes_on_disk(cli.state_dir, uuid)) == 3
    assert cli.json("cluster show", "bay1")["node_count"] == 2


def test_cluster_lifecycle_modern_names(cli: Cli) -> None:
    created = cli("cluster create", "c1", "--cluster-template", "t1", "--node-count", "2",
                  "--labels", "fake_node_seconds=0.3", "--wait")
    assert created.stderr.splitlines()[-1].startswith("c1: CREATE_COMPLETE  nodes 3/3")
    uuid = cli.json("cluster show", "c1")["uuid"]
    rows = cli.json("cluster list")
    assert {"uuid", "name", "keypair", "node_count", "master_count", "status",
            "health_status"} == set(rows[0])
    assert cli("cluster-list", "-f", "value", "-c", "name").stdout.split() == ["bay1", "c1"]
    assert cli.json("cluster-show", "c1")["keypair"] == "k1"
    cli("cluster update", "c1", "replace", "node_count=3", "--wait")
    assert len(nodes_on_disk(cli.state_dir, uuid)) == 4
    cli("cluster-update", "c1", "replace", "node_count=2")
    resized = cli("cluster resize", "c1", "1", "--wait")
    assert resized.stdout == "Request to resize cluster c1 has been accepted.\n"
    assert resized.stderr.splitlines()[-1].startswith("c1: UPDATE_COMPLETE  nodes 2/2")
    assert len(nodes_on_disk(cli.state_dir, uuid)) == 2
    cli("cluster-resize", "c1", "2", "--wait")
    upgraded = cli("cluster upgrade", "c1", "t2", "--wait")
    assert upgraded.stdout == "Request to upgrade cluster c1 has been accepted.\n"
    assert cli.json("cluster show", "c1")["cluster_template_id"] == \
        cli.json("cluster template show", "t2")["uuid"]
    cli("cluster-upgrade", "c1", "t1", "--max-batch-size", "2", "--wait")
    events = cli.json("cluster events", "c1")
    assert events[-1]["reason"] == "Converged", events
    assert cli.json("cluster-events", "c1", "--limit", "2")[-1] == events[-1]


def test_wait_reports_failure_with_events(cli: Cli) -> None:
    failed = cli("cluster create", "doomed", "--cluster-template", "t1", "--labels",
                 "fake_fail_on=create", "--wait", rc=3)
    lines = failed.stderr.splitlines()
    assert "ERROR: Cluster doomed is CREATE_FAILED: fake driver: injected create failure" \
        in lines, lines
    assert lines[lines.index("Recent events:") + 1].endswith(
        "error Failed: fake driver: injected create failure"), lines
    status = cli("status", rc=3)
    assert "doomed" in status.stdout and "CREATE_FAILED" in status.stdout
    rows = cli("status", "--no-host", "-f", "json", rc=3).json()
    summary = next(r for r in rows if r["component"] == "clusters")
    assert summary["state"] == "1 in trouble", rows
    assert "CREATE_FAILED 1" in summary["detail"], summary
    assert [r["name"] for r in rows if r["component"] == "cluster"] == ["doomed"], rows
    with held(cli.state_dir, "slow"):  # its create cannot finish within the wait
        slow = cli("cluster-create", "--name", "slow", "--cluster-template", "t1", "--labels",
                   "fake_hold=slow", "--wait", "--wait-timeout", "1", rc=4)
    assert "ERROR: Cluster slow is still CREATE_IN_PROGRESS after" in slow.stderr
    gone = cli("cluster delete", "doomed", "slow", "--wait")
    assert gone.stderr.splitlines()[-1].startswith("slow: DELETE_COMPLETE")
    assert cli("cluster show", "doomed", rc=1).stderr == \
        "ERROR: Cluster doomed could not be found. (HTTP 404)\n"


def test_exit_codes_and_live_progress_in_real_processes(cli: Cli) -> None:
    env = {**os.environ, "MAGNA_URL": cli.server.url}
    base = [sys.executable, "-m", "magna"]
    down = subprocess.run([*base, "bay-list"], capture_output=True, text=True, timeout=60,
                          env={**env, "MAGNA_URL": "http://127.0.0.1:9"})
    assert down.returncode == 5
    assert down.stderr.startswith("ERROR: Cannot reach the Magna API at http://127.0.0.1:9")
    assert "Is `magna serve` running? MAGNA_URL=http://127.0.0.1:9" in down.stderr
    assert "Traceback" not in down.stderr
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert app.main(["--magna-url", "http://127.0.0.1:9", "status"]) == 5
    assert "Is `magna serve` running?" in err.getvalue()
    # A terminal on stderr gets one line redrawn in place. The create is held until the line
    # has shown it in progress.
    leader, follower = pty.openpty()
    with held(cli.state_dir, "live"):
        proc = subprocess.Popen([*base, "cluster", "create", "live", "--cluster-template", "t1",
                                 "--labels", "fake_hold=live", "--wait"],
                                stdout=subprocess.PIPE, stderr=follower, env=env)
        early = read_until(leader, b"live: CREATE_IN_PROGRESS", timeout=60)
    proc.communicate(timeout=120)
    os.close(follower)
    drawn = (early + os.read(leader, 65536)).decode()
    os.close(leader)
    assert proc.returncode == 0, drawn
    assert "\r\x1b[Klive: CREATE_IN_PROGRESS" in drawn and "\r\x1b[Klive: CREATE_COMPLETE" \
        in drawn, drawn
    cli("cluster-delete", "live", "--wait")


# --- nodegroups, certificates, cluster config -------------------------------------------------

def test_nodegroups(cli: Cli) -> None:
    made = cli.json("nodegroup create", "c1", "ng1", "--node-count", "1", "--labels", "r=s")
    assert made["name"] == "ng1" and made["role"] == "worker"
    assert cli("nodegroup-create", "c1", "ng2", "--role", "edge").rc == 0
    names = cli("nodegroup list", "c1", "-f", "value", "-c", "name").stdout.split()
    assert set(names) == {"default-master", "default-worker", "ng1", "ng2"}
    assert cli("nodegroup-list", "c1", "--role", "edge", "-f", "value", "-c", "name"
               ).stdout.split() == ["ng2"]
    assert cli.json("nodegroup show", "c1", "ng1")["labels"]["r"] == "s"
    cli("nodegroup update", "c1", "ng1", "replace", "max_node_count=5")
    assert cli.json("nodegroup-show", "c1", "ng1")["max_node_count"] == 5
    cli("nodegroup-update", "c1", "ng1", "replace", "min_node_count=1")
    cli("nodegroup delete", "c1", "ng2")
    cli("nodegroup-delete", "c1", "ng1")


def test_certificates_and_cluster_config(cli: Cli) -> None:
    ca_pem = cli("ca-show", "--bay", "bay1").stdout
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    assert cli("ca show", "bay1").stdout == ca_pem
    config_dir = cli.tmp / "bay1-config"
    exports = cli("cluster-config", "bay1", "--dir", str(config_dir)).stdout.splitlines()
    api_address = cli.json("bay-show", "bay1")["api_address"]
    assert exports == [f"export DOCKER_HOST={api_address}",
                       f"export DOCKER_CERT_PATH={config_dir}", "export DOCKER_TLS_VERIFY=1"]
    assert (config_dir / "key.pem").stat().st_mode & 0o777 == 0o600
    assert x509.load_pem_x509_certificate((config_dir / "ca.pem").read_bytes()) == ca
    cert = x509.load_pem_x509_certificate((config_dir / "cert.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    key = serialization.load_pem_private_key((config_dir / "key.pem").read_bytes(), None)
    assert cert.public_key() == key.public_key()
    # A second run (eval'd again in a new shell) prints the same exports, signs nothing.
    kept = {name: (config_dir / name).read_bytes() for name in ("ca.pem", "cert.pem", "key.pem")}
    again = cli("cluster config", "bay1", "--dir", str(config_dir))
    assert again.stdout.splitlines() == exports
    assert kept == {name: (config_dir / name).read_bytes() for name in kept}
    # Files that are not this cluster's: an error, and a line that makes `eval` fail too.
    foreign = cli.tmp / "foreign"
    foreign.mkdir()
    (foreign / "ca.pem").write_text(tlsconfig.new_key_and_csr()[0])
    refused = cli("cluster config", "bay1", "--dir", str(foreign), rc=1)
    assert refused.stdout == "false\n"
    assert "not credentials for cluster bay1" in refused.stderr and "--force" in refused.stderr
    cli("cluster config", "bay1", "--dir", str(foreign), "--force")
    assert x509.load_pem_x509_certificate((foreign / "ca.pem").read_bytes()) == ca
    cli("cluster config", "bay1", "--dir", str(config_dir), "--force")
    assert (config_dir / "cert.pem").read_bytes() != kept["cert.pem"]
    # ca-sign with a CSR of the user's own, in both spellings.
    csr = x509.load_pem_x509_csr
    csr_file = cli.tmp / "me.csr"
    csr_file.write_text(tlsconfig.new_key_and_csr("me", "people")[1])
    assert csr(csr_file.read_bytes()).subject.rfc4514_string() == "O=people,CN=me"
    signed = cli("ca-sign", "--bay", "bay1", "--csr", str(csr_file)).stdout
    x509.load_pem_x509_certificate(signed.encode()).verify_directly_issued_by(ca)
    assert cli("ca sign", "bay1", str(csr_file)).stdout.startswith("-----BEGIN CERTIFICATE")
    assert "Cannot read" in cli("ca-sign", "bay1", str(cli.tmp / "nope.csr"), rc=1).stderr


def test_cluster_config_tls_disabled_and_kubernetes(cli: Cli) -> None:
    cli("cluster create", "plain", "--cluster-template", "tls-off", "--wait")
    plain_dir = cli.tmp / "plain"
    out = cli("cluster config", "plain", "--dir", str(plain_dir)).stdout.splitlines()
    assert len(out) == 1 and out[0].startswith("export DOCKER_HOST=tcp://")
    assert not plain_dir.exists() or not list(plain_dir.iterdir())
    cli("cluster create", "k8s", "--cluster-template", "kube", "--wait")
    kube_dir = cli.tmp / "kube"
    assert cli("cluster config", "k8s", "--dir", str(kube_dir)).stdout == \
        f"export KUBECONFIG={kube_dir}/config\n"
    config = json.loads((kube_dir / "config").read_text())
    assert config["clusters"][0]["cluster"]["server"] == cli.json("cluster show",
                                                                  "k8s")["api_address"]
    assert set(config["users"][0]["user"]) == {"client-certificate-data", "client-key-data"}
    assert (kube_dir / "config").stat().st_mode & 0o777 == 0o600
    written = (kube_dir / "config").read_bytes()
    assert cli("cluster config", "k8s", "--dir", str(kube_dir)).stdout == \
        f"export KUBECONFIG={kube_dir}/config\n"
    assert (kube_dir / "config").read_bytes() == written
    with held(cli.state_dir, "early"):
        cli("cluster create", "early", "--cluster-template", "t1", "--labels",
            "fake_hold=early")
        early = cli("cluster config", "early", "--dir", str(cli.tmp / "early"), rc=1)
    assert early.stderr == "ERROR: Cluster early has no API address yet (status " \
                           "CREATE_IN_PROGRESS).\n"
    assert not (cli.tmp / "early").exists()
    cli("cluster delete", "plain", "k8s", "early", "--wait")


def test_ca_rotate(cli: Cli) -> None:
    before = cli("ca-show", "c1").stdout
    assert cli("ca-rotate", "--cluster", "c1").stdout == \
        "Request to rotate the CA of cluster c1 has been accepted.\n"
    cli("ca rotate", "c1")
    assert cli("ca show", "c1").stdout != before


# --- operators: services, quotas, stats, status -----------------------------------------------

def test_services_quotas_stats_status(cli: Cli) -> None:
    services = cli.json("service-list")
    assert len(services) == 1 and services[0]["state"] == "up"
    assert services[0]["binary"] == "magnum-conductor"
    # Both spellings list the same rows; updated_at moves with every heartbeat in between.
    def stable(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in row.items() if k != "updated_at"} for row in rows]
    assert stable(cli.json("service list")) == stable(services)
    made = cli.json("quota create", "--project-id", "p1", "--hard-limit", "3")
    assert (made["project_id"], made["resource"], made["hard_limit"]) == ("p1", "Cluster", 3)
    cli("quotas-update", "--project-id", "p1", "--hard-limit", "4")
    assert cli.json("quota show", "--project-id", "p1")["hard_limit"] == 4
    assert cli.json("quotas-show", "--project-id", "p1", "--resource", "Cluster")[
        "hard_limit"] == 4
    cli("quota update", "--project-id", "p1", "--hard-limit", "5")
    assert cli.json("quota list", "--all-tenants") == [
        {"project_id": "p1", "resource": "Cluster", "hard_limit": 5}]
    assert isinstance(cli.json("quotas-list"), list)
    cli("quotas-create", "--project-id", "p2", "--hard-limit", "1")
    cli("quota delete", "--project-id", "p2")
    cli("quotas-delete", "--project-id", "p1")
    clusters = cli.api("/clusters")["clusters"]
    stats = cli.json("stats show")
    assert stats["clusters"] == len(clusters)
    assert cli.json("stats-list", "admin")["clusters"] >= 0
    status = cli("status")  # the failed clusters are gone: everything is fine
    assert "| api" in status.stdout and "| up" in status.stdout
    rows = cli.json("status")
    assert [r["component"] for r in rows][:2] == ["api", "conductor"]
    host = [r for r in rows if r["component"] == "host"]  # this machine has all it needs
    assert {r["name"] for r in host} == {
        "this host: root", "this host: network namespaces", "this host: iptables",
        "this host: cgroups", "this host: loop devices", "this host: programs"}
    assert {r["state"] for r in host} == {"met"}, host
    assert [r["component"] for r in cli.json("status", "--no-host")] == [
        "api", "conductor", "clusters"]
    # Every cluster at a glance, all fine: how many, by status, none unhealthy.
    statuses = sorted(c["status"] for c in clusters)
    summary = next(r for r in rows if r["component"] == "clusters")
    assert summary["name"] == f"{len(clusters)} cluster{'s' if len(clusters) > 1 else ''}"
    assert summary["state"] == "fine", summary
    assert summary["detail"] == "by status: " + ", ".join(
        f"{s} {statuses.count(s)}" for s in sorted(set(statuses))) + "; unhealthy: 0"
    # Without the programs on its PATH, this host misses something: exit status 3.
    lacking = subprocess.run(
        [sys.executable, "-m", "magna", "status", "-f", "json"], capture_output=True,
        text=True, timeout=60, env={**os.environ, "MAGNA_URL": cli.server.url,
                                    "PATH": str(cli.tmp)})
    assert lacking.returncode == 3, lacking.stderr
    programs = next(r for r in json.loads(lacking.stdout) if r["name"] == "this host: programs")
    assert programs["state"] == "missing"
    assert "apt-get install" in programs["detail"] and "docker-registry" in programs["detail"]
    # A conductor that stopped heartbeating an hour ago (its row stays) is reported down.
    engine = create_engine(db_engine.default_url(cli.state_dir))
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with Session(engine) as session, session.begin():
        session.add(models.MagnumService(host="ghost", binary="magnum-conductor",
                                         last_seen_up=old, created_at=old, updated_at=old))
    try:
        down = cli("status", "-f", "json", rc=3).json()
        assert {"component": "conductor", "name": "ghost (magnum-conductor)", "state": "down",
                "detail": f"last report {old.isoformat()}"} in down, down
    finally:
        with Session(engine) as session, session.begin():
            session.execute(delete(models.MagnumService).where(
                models.MagnumService.host == "ghost"))
        engine.dispose()


def test_help_completion_and_server_commands(cli: Cli) -> None:
    listed = cli("help").stdout
    assert "bay-create" in listed
    # Each command once: the spaced name listed, its hyphenated twin not (it still works).
    names = [line.strip().split("  ")[0] for line in
             listed.split("Commands:\n", 1)[1].splitlines() if line.startswith("  ")]
    assert "cluster create" in names and "cluster-create" not in names
    assert "complete" in names and "bash-completion" not in names
    assert len(names) == len(set(names))
    assert "--cluster-template" in cli("help", "cluster-create").stdout
    assert "--baymodel" in cli("help", "bay-create").stdout
    completion = cli("bash-completion").stdout
    assert "_magna()" in completion or "complete -F" in completion, completion
    assert "baymodel-create" in completion
    cli("complete")
    config = cli.tmp / "db.conf"
    config.write_text(f"[DEFAULT]\nstate_dir = {cli.tmp / 'db-state'}\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        magna_cmd.main(["--config-file", str(config), "db", "upgrade"])
    assert exited.value.code == 0
    assert out.getvalue().startswith("Database is at revision ")
    cli.ran.add("db upgrade")
    cli.ran.add("serve")  # the fixture's server is `python -m magna --config-file … serve`


# --- containers (fake engine: "exit N" exits at once, an image named "missing…" is absent) -----

def test_containers(cli: Cli) -> None:
    made = cli("container-create", "--name", "box", "--image", "magna/busybox:latest", "--bay",
               "bay1", "--command", "sh -c 'sleep 3600'", "--memory", "64m", "--environment",
               "GREETING=hi", "-e", "LIST=a,b", "--wait", "-f", "json")
    box = made.json()
    assert (box["status"], box["memory"], box["command"]) == ("Running", 64,
                                                              ["sh", "-c", "sleep 3600"])
    assert box["environment"] == {"GREETING": "hi", "LIST": "a,b"}
    assert made.stderr.splitlines()[-1].startswith(f"box: Running  on {box['host']}  ")
    big = cli.json("container create", "--name", "big", "--image", "img", "--cluster", "c1",
                   "--memory", "1g")
    assert (big["memory"], big["status"], big["updated_at"]) == (1024, "Creating", None)
    assert cli("container-list", "--bay", "bay1", "-f", "value", "-c", "name").stdout == "box\n"
    rows = cli.json("container list")
    assert {r["name"] for r in rows} == {"box", "big"}
    assert set(rows[0]) == {"uuid", "name", "image", "status", "exit_code", "host"}
    assert cli("container-show", "box", "-f", "value", "-c", "status").stdout == "Running\n"
    assert cli.json("container show", box["uuid"])["name"] == "box"

    assert cli("container-logs", "box").stdout == "started box\n"
    assert cli("container-exec", "box", "--command", "echo hi there").stdout == "hi there\n"
    assert cli("container exec", "box", "--command", "false", rc=1).stdout == ""
    assert cli("container logs", "box", "--tail", "1").stdout == "exec false\n"

    paused = cli("container-pause", "box", "--wait")
    assert paused.stdout == "Request to pause container box has been accepted.\n"
    assert paused.stderr.splitlines()[-1].startswith("box: Paused  on ")
    again = cli("container pause", "box", rc=1)
    assert again.stderr.startswith("ERROR: Cannot pause container box: Only a running "
                                   "container can be paused; it is Paused."), again
    assert cli("container-unpause", "box", "--wait").stderr.splitlines()[-1].startswith(
        "box: Running  on ")
    stopped = cli("container stop", "box", "--wait")
    assert stopped.stderr.splitlines()[-1].startswith("box: Stopped  exit code 137  on ")
    cli("container-start", "box", "--wait")
    assert cli("container unpause", "box", rc=1).stderr.endswith("(HTTP 409)\n")
    cli("container reboot", "box", "--wait")
    cli("container-reboot", "box")
    cli("container start", "box")
    cli("container-stop", "box")
    cli("container unpause", "box", rc=1)
    cli("container pause", "box", rc=1)
    assert cli("container-show", "box", "-f", "value", "-c", "desired_state").stdout == \
        "stopped\n"

    # Truthful ends: a command that exits at once, an image the engine does not have.
    quick = cli("container-create", "--name", "quick", "--image", "img", "--bay", "bay1",
                "--command", "exit 3", "--wait", "-f", "json").json()
    assert (quick["status"], quick["exit_code"]) == ("Stopped", 3)
    absent = cli("container-create", "--name", "absent", "--image", "missing/img", "--bay",
                 "bay1", "--wait", "-f", "json", rc=3)
    assert absent.json()["status"] == "Error"
    assert "ERROR: Container absent is in Error: No such image: missing/img" in absent.stderr

    # Bad input: usage errors (2) and the server's refusals (1), never a traceback.
    for option, value in (("--memory", "1.5g"), ("--memory", "512k"), ("-e", "NOEQUALS")):
        usage = cli("container-create", "--image", "img", "--bay", "bay1", option, value, rc=2)
        assert "Memory must be" in usage.stderr or "KEY=VALUE" in usage.stderr, usage
    small = cli("container-create", "--image", "img", "--bay", "bay1", "--memory", "1", rc=1)
    assert "(HTTP 400)" in small.stderr
    assert cli("container-show", "nope", rc=1).stderr.endswith("could not be found. (HTTP 404)\n")
    assert cli("container-list", "--bay", "nope", rc=1).stderr.endswith("(HTTP 404)\n")
    not_running = cli("container-exec", "quick", "--command", "true", rc=1)
    assert not_running.stderr == "ERROR: Container quick is not running. (HTTP 409)\n"

    deleted = cli("container-delete", "quick", "absent", "--wait")
    assert deleted.stdout.splitlines() == ["Request to delete container quick has been accepted.",
                                           "Request to delete container absent has been "
                                           "accepted."]
    assert [line.split("  ")[0] for line in deleted.stderr.splitlines()][-1] == \
        "absent: Deleted"
    cli("container delete", "box", "big", "--wait")
    assert cli.json("container list") == []


def test_federations(cli: Cli) -> None:
    c1, bay1 = (cli.json("cluster show", name)["uuid"] for name in ("c1", "bay1"))
    created = cli("federation create", "fed1", "--hostcluster", "c1", "--member", "bay1",
                  "--dns-zone", "example.com.", "--property", "team=blue")
    uuid = created.stdout.split()[4]
    assert created.stdout == f"Request to create federation {uuid} has been accepted.\n"
    assert cli.json("federation list") == [{"uuid": uuid, "name": "fed1", "hostcluster_id": c1,
                                            "member_ids": bay1, "status": "CREATE_COMPLETE"}]
    shown = cli.json("federation-show", "fed1")
    assert shown["properties"] == {"dns-zone": "example.com.", "team": "blue"}
    joined = cli("federation update", "fed1", "add", "member_ids=c1")
    assert joined.stdout == "Request to update federation fed1 has been accepted.\n"
    assert cli.json("federation show", "fed1")["member_ids"] == [bay1, c1]
    again = cli("federation-update", "fed1", "add", "member_ids=c1", rc=1)
    assert "already a member" in again.stderr and again.stderr.endswith("(HTTP 409)\n")
    cli("federation-update", "fed1", "remove", "member_ids=bay1", "properties/team")
    shown = cli.json("federation show", "fed1")
    assert (shown["member_ids"], shown["properties"]) == ([c1], {"dns-zone": "example.com."})
    bad = cli("federation-create", "--hostcluster", "c1", "--dns-zone", "not a zone", rc=1)
    assert "is not a DNS zone name" in bad.stderr
    cli("federation-create", "fed2", "--hostcluster", "bay1", "--dns-zone", "b.example.")
    hosting = cli("cluster delete", "c1", rc=1)
    assert f"federation fed1 ({uuid})" in hosting.stderr and "(HTTP 409)" in hosting.stderr
    cli("federation delete", "fed1")
    assert cli("federation-delete", "fed2").stdout == "Federation fed2 deleted.\n"
    assert cli.json("federation-list") == []


def test_cleanup_and_every_command_ran(cli: Cli) -> None:
    cli("bay-delete", "bay1", "--wait")
    cli("cluster-delete", "c1", "--wait")
    for name in ("bm1", "t2", "tls-off", "kube"):
        cli("baymodel-delete" if name == "bm1" else "cluster-template-delete", name)
    cli("cluster template delete", "t1")
    assert cli.json("cluster template list") == []
    # NOTE: pod-*, rc-* and coe-service-* need a Kubernetes API server, which the fake
    # driver has none of: test_kube_objects_api.py runs every one of them against a real one.
    missing = set(COMMANDS) - cli.ran - set(kube_objects.commands())
    assert not missing, sorted(missing)
