"""The real ``openstack coe`` client (python-magnumclient 5.0.0) against a real ``magna serve``.

One server per database (SQLite, PostgreSQL, MariaDB) for the whole module; the tests run in
file order and build on each other's resources (templates t1..t5, clusters c1/c2, …), each
asserting on what the client printed. The server runs with ``[api] max_limit = 2`` so that
``--limit N`` (N > 2) really makes the client follow ``next`` links across several pages. The
MariaDB pass adds about 55 s to the suite (measured: 18 tests in 53.6 s).

The server's in-process conductor converges clusters through the in-tree fake driver (nodes are
files under the server's state dir), with sweep, heartbeat and health intervals of well under a
second, so every change the client asks for is followed until the driver realised it: the
tests poll (the API, then ``cluster show``) until ``*_COMPLETE`` and compare what the client
prints with the nodes on disk. c1 carries the fake driver's label ``fake_hold``: a test that
asserts what a request leaves behind (``*_IN_PROGRESS``, no nodes yet) makes the request inside
``Magna.held()``, which holds every apply and delete of c1 at its start until the test has
looked, so the driver cannot finish first. Those reads go straight to the API over HTTP, since
starting the client takes about a second. t5 uses the default driver's image, to show its
catalog works with the client too.

Every command of the client-compat sheet (docs: /work/shared/spec/client-compat.md) is run at
least once. Independent invocations run concurrently: each ``openstack`` start costs ~1 s.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from magna.drivers import fake
from tests.support import backing
from tests.support.fake_driver import held, nodes_on_disk
from tests.support.server import RunningServer, magna_server

OPENSTACK = str(Path(sys.executable).parent / "openstack")

pytestmark = [pytest.mark.client,
              pytest.mark.skipif(not os.path.exists(OPENSTACK),
                                 reason="the openstack client is not installed in this venv")]
TIMEOUT = 90
CONVERGE_TIMEOUT = 30  # seconds a change may take to be realised by the fake driver
MAX_LIMIT = 2
SERVER_CONFIG: dict[str, dict[str, object]] = {
    "api": {"max_limit": MAX_LIMIT},
    "drivers": {"enabled_drivers": "fake,local-swarm"},
    "conductor": {"sweep_interval": 0.3, "heartbeat_interval": 0.5, "health_interval": 0.5},
}
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
COMMON_ARGS = ("--coe", "swarm-mode", "--external-network", "public", "--flavor", "m1.small",
               "--master-flavor", "m1.small")
TEMPLATE_ARGS = ("--image", "fake-image", *COMMON_ARGS)  # the fake driver's catalog
DOCKER_TEMPLATE_ARGS = ("--image", "debian-12-docker", *COMMON_ARGS)  # local-swarm's catalog
# c1's fake_hold label: Magna.held() holds its applies and deletes, see the module docstring.
HOLD = "c1"
FAILED = ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "ROLLBACK_FAILED")


@dataclass
class Result:
    args: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str
    after: Any = None  # see Magna.coe's ``watch``

    def json(self) -> Any:
        return parse_json(self.stdout)


@dataclass
class Magna:
    """A running server plus what the tests created on it (shared in file order)."""

    server: RunningServer
    state_dir: str
    tmp: Path
    db: str
    ids: dict[str, str] = field(default_factory=dict)

    def coe(self, *args: str, ok: bool = True, watch: str | None = None) -> Result:
        """Run ``openstack … coe ARGS``; unless ``ok`` is False, require rc 0 and no traceback.

        With ``watch`` (a cluster name or uuid), the cluster is read from the API the moment the
        client has exited, into ``after``.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["SHELL"] = "/bin/bash"
        proc = subprocess.run(
            [OPENSTACK, "--os-auth-type", "none", "--os-endpoint", self.server.endpoint,
             "coe", *args],
            capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=self.tmp)
        after = None
        if watch is not None:  # before anything else, should the cluster not be held
            response = self.get(f"/clusters/{watch}")
            after = response.json() if response.status_code == 200 else {
                "status": f"HTTP {response.status_code}: {response.text}"}
        result = Result(tuple(args), proc.returncode, proc.stdout, proc.stderr, after)
        assert "Traceback" not in proc.stderr, self.describe(result)
        if ok:
            assert proc.returncode == 0, self.describe(result)
        return result

    def coe_json(self, *args: str) -> Any:
        return self.coe(*args, "-f", "json").json()

    def many(self, *commands: Sequence[str], ok: bool = True,
             watch: dict[int, str] | None = None) -> list[Result]:
        """Run independent commands concurrently, results in the order given.

        ``watch`` maps the index of a command to the cluster to ``watch`` after it.
        """
        watched = watch or {}
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            return list(pool.map(lambda item: self.coe(*item[1], ok=ok,
                                                       watch=watched.get(item[0])),
                                 enumerate(commands)))

    def get(self, path: str) -> httpx.Response:
        """``GET /v1<path>`` straight from the API (milliseconds, where the client takes ~1 s)."""
        return httpx.get(self.server.endpoint + path, timeout=TIMEOUT,
                         headers={"OpenStack-API-Version": "container-infra latest"})

    def api(self, path: str) -> Any:
        """The JSON body of a ``get`` that must succeed."""
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def poll(self, what: str, probe: Callable[[], Any], done: Callable[[Any], bool],
             timeout: float = CONVERGE_TIMEOUT, interval: float = 0.3) -> Any:
        """Call ``probe`` until ``done(value)``; fail with the last value after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if done(value):
                return value
            assert time.monotonic() < deadline, (
                f"[{self.db}] {what}: not reached within {timeout}s; last seen:\n{value}\n"
                f"--- server log (tail)\n{self.server.log()[-3000:]}")
            time.sleep(interval)

    def wait_cluster(self, ident: str, status: str) -> dict[str, Any]:
        """``cluster show`` until the cluster reaches ``status``; a failure fails at once.

        Health is part of converging: the status must come with ``health_status`` HEALTHY.
        The API is polled first (cheap), then the client until it prints the same (normally
        at once): each client start costs a second of CPU, and the machine has two.
        """
        def done(body: dict[str, Any]) -> bool:
            return reached(body, status) and body["health_status"] == "HEALTHY"
        self.poll(f"cluster {ident} {status} and HEALTHY (API)",
                  lambda: self.api(f"/clusters/{ident}"), done, interval=0.1)
        result: dict[str, Any] = self.poll(f"cluster {ident} {status} and HEALTHY",
                                           lambda: self.coe_json("cluster", "show", ident), done)
        return result

    def wait_clusters(self, *wanted: tuple[str, str]) -> list[dict[str, Any]]:
        """``wait_cluster`` for several (ident, status) at once, results in the order given."""
        with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
            return list(pool.map(lambda pair: self.wait_cluster(*pair), wanted))

    def wait_gone(self, path: str, *args: str,
                  while_present: Callable[[Result], bool] = lambda result: True) -> Result:
        """Run ``coe ARGS`` (a show of ``GET /v1<path>``) until the client reports a 404.

        Every answer before that must succeed and satisfy ``while_present``. As in
        ``wait_cluster``, the API is polled first.
        """
        self.poll(f"GET {path} -> 404", lambda: self.get(path).status_code,
                  lambda code: code == 404, interval=0.1)
        def done(result: Result) -> bool:
            if result.rc != 0 and "(HTTP 404)" in result.stderr:
                return True
            assert result.rc == 0 and while_present(result), self.describe(result)
            return False
        result: Result = self.poll(" ".join(args) + " -> 404",
                                   lambda: self.coe(*args, ok=False), done)
        return result

    def held(self) -> AbstractContextManager[None]:
        """Inside, c1's operations wait at their start (its label ``fake_hold``)."""
        return held(self.state_dir, HOLD)

    def nodes(self, cluster_uuid: str) -> list[fake.FakeNode]:
        """The fake driver's nodes of a cluster: its files under the server's state dir."""
        return fake.ClusterFiles(os.path.join(self.state_dir, fake.ROOT), cluster_uuid).nodes()

    def applied(self, cluster_uuid: str) -> dict[str, Any]:
        """What the fake driver recorded at its last converged apply of a cluster."""
        path = Path(self.state_dir, fake.ROOT, cluster_uuid, "cluster.json")
        record: dict[str, Any] = json.loads(path.read_text())
        return record

    def describe(self, result: Result) -> str:
        log = self.server.log()[-3000:]
        return (f"[{self.db}] openstack coe {' '.join(result.args)} -> rc {result.rc}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
                f"--- server log (tail)\n{log}")


def reached(body: dict[str, Any], status: str) -> bool:
    """Whether a resource shows ``status``; a failure fails the test at once, with its reason."""
    assert body["status"] not in FAILED, (
        f"{body.get('name')} is {body['status']}: {body.get('status_reason')}")
    return bool(body["status"] == status)


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


def assert_realised(magna: Magna, body: dict[str, Any], workers: int, masters: int = 1
                    ) -> list[fake.FakeNode]:
    """A converged ``cluster show``: its addresses are the fake driver's nodes on disk."""
    nodes = magna.nodes(body["uuid"])
    on_disk = {role: sorted(n.address for n in nodes if (n.role == "master") == (role == "m"))
               for role in ("m", "w")}
    assert len(body["master_addresses"]) == masters, body
    assert len(body["node_addresses"]) == workers, body
    assert sorted(body["master_addresses"]) == on_disk["m"], (body, nodes)
    assert sorted(body["node_addresses"]) == on_disk["w"], (body, nodes)
    assert body["api_address"].startswith("tcp://"), body
    assert body["api_address"] in {f"tcp://{a}:2375" for a in body["master_addresses"]}
    assert body["coe_version"] == fake.VERSION and body["container_version"] == fake.VERSION
    assert body["cluster_id"] == body["uuid"]  # the fake driver's stack id is the cluster's uuid
    # Health names every node there is, and only those.
    assert body["health_status"] == "HEALTHY", body
    assert body["health_status_reason"] == {
        "api": "ok", **{f"{node.name}.Ready": "True" for node in nodes}}, (body, nodes)
    return nodes


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def magna(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Magna]:
    state = tmp_path_factory.mktemp(f"client-{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{state / 'magna.db'}"
        elif request.param == "mariadb":
            url = stack.enter_context(backing.mariadb_database())
        else:
            url = stack.enter_context(backing.postgres_database())
        state_dir = str(state / "server")
        server = stack.enter_context(magna_server(state_dir, url, extra=SERVER_CONFIG))
        work = state / "work"
        work.mkdir()
        yield Magna(server, state_dir, work, request.param)


# --- cluster templates ---------------------------------------------------------------------

def test_template_create(magna: Magna) -> None:
    # t1..t4 on the fake driver's image (the clusters use t1 and t2); t5 on the default
    # (local-swarm) driver's image, to show that catalog works with the client too.
    images = {"t1": "fake-image", "t2": "fake-image", "t3": "fake-image", "t4": "fake-image",
              "t5": "debian-12-docker"}
    results = magna.many(
        ("cluster", "template", "create", "t1", *TEMPLATE_ARGS, "--labels", "a=b,c=d",
         "--tags", "x,y", "-f", "json"),
        *[("cluster", "template", "create", name, *TEMPLATE_ARGS, "--labels", "a=b,c=d",
           "-f", "json") for name in ("t2", "t3", "t4")],
        ("cluster", "template", "create", "t5", *DOCKER_TEMPLATE_ARGS, "--labels", "a=b,c=d",
         "-f", "json"))
    for (name, image), result in zip(images.items(), results, strict=True):
        assert result.stdout.startswith(f"Request to create cluster template {name} accepted")
        body = result.json()
        assert body["name"] == name
        assert re.fullmatch(UUID_RE, body["uuid"])
        magna.ids[name] = body["uuid"]
        assert body["coe"] == "swarm-mode"
        assert body["image_id"] == image
        # The distro comes from the image's os_distro in the driver's catalog.
        assert body["cluster_distro"] == ("fake" if image == "fake-image" else "debian")
        assert body["server_type"] == "vm"
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
    with magna.held():
        c1, c2 = magna.many(
            ("cluster", "create", "c1", "--cluster-template", "t1", "--node-count", "2",
             "--master-count", "1", "--labels", f"x=y,fake_hold={HOLD}", "--merge-labels"),
            ("cluster", "create", "c2", "--cluster-template", magna.ids["t2"]),
            watch={0: "c1"})
    for name, result in (("c1", c1), ("c2", c2)):
        match = re.fullmatch(rf"Request to create cluster ({UUID_RE}) accepted\n", result.stdout)
        assert match, result.stdout
        magna.ids[name] = match.group(1)
    assert magna.ids["c1"] != magna.ids["c2"]
    # c1's first pass was held: accepted, not built, and it does not claim otherwise.
    c1_now = c1.after
    assert c1_now["status"] == "CREATE_IN_PROGRESS", c1_now
    assert c1_now["api_address"] is None and c1_now["node_addresses"] == []
    c1_body, c2_body = magna.wait_clusters((magna.ids["c1"], "CREATE_COMPLETE"),
                                           (magna.ids["c2"], "CREATE_COMPLETE"))
    assert c1_body["status_reason"] == "CREATE completed successfully"
    assert_realised(magna, c1_body, workers=2)
    assert_realised(magna, c2_body, workers=1)


def test_cluster_show(magna: Magna) -> None:
    by_name, by_uuid = magna.many(("cluster", "show", "c1", "-f", "json"),
                                  ("cluster", "show", magna.ids["c2"], "-f", "json"))
    body = by_name.json()
    assert body["uuid"] == magna.ids["c1"] and body["name"] == "c1"
    assert body["cluster_template_id"] == magna.ids["t1"]
    assert body["status"] == "CREATE_COMPLETE"
    nodes = assert_realised(magna, body, workers=2)
    assert sorted(n.name for n in nodes) == ["default-master-1", "default-worker-2",
                                             "default-worker-3"]
    assert body["node_count"] == 2 and body["master_count"] == 1
    assert body["labels"] == {"a": "b", "c": "d", "x": "y", "fake_hold": HOLD}
    assert body["labels_added"] == {"x": "y", "fake_hold": HOLD}
    assert body["labels_overridden"] == {} and body["labels_skipped"] == {}
    assert body["flavor_id"] == "m1.small" and body["master_flavor_id"] == "m1.small"
    assert body["create_timeout"] == 60
    assert body["project_id"] == "admin"
    other = by_uuid.json()
    assert other["name"] == "c2" and other["cluster_template_id"] == magna.ids["t2"]
    assert other["node_count"] == 1 and other["labels"] == {"a": "b", "c": "d"}
    assert other["status"] == "CREATE_COMPLETE"
    assert_realised(magna, other, workers=1)
    assert nodes_on_disk(magna.state_dir, other["uuid"]) == ["default-master-1",
                                                                  "default-worker-2"]


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
    assert all(r["status"] == "CREATE_COMPLETE" and r["health_status"] == "HEALTHY"
               for r in rows), rows
    assert [r["name"] for r in one.json()] == [rows[0]["name"]]
    assert [r["name"] for r in desc.json()] == ["c2", "c1"]


def test_cluster_update_and_rollback(magna: Magna) -> None:
    before = {n.name for n in magna.nodes(magna.ids["c1"])}
    with magna.held():
        plain, rollback = magna.many(
            ("cluster", "update", "c1", "--node-count", "3"),
            ("cluster", "update", magna.ids["c2"], "--node-count", "2", "--rollback"),
            watch={0: magna.ids["c1"]})
    assert plain.stdout.strip() == "Request to update cluster c1 has been accepted."
    assert rollback.stdout.strip() == (f"Request to update cluster {magna.ids['c2']} has "
                                       "been accepted.")
    assert plain.after["status"] == "UPDATE_IN_PROGRESS"
    c1, c2 = magna.wait_clusters((magna.ids["c1"], "UPDATE_COMPLETE"),
                                 (magna.ids["c2"], "UPDATE_COMPLETE"))
    assert c1["node_count"] == 3 and c1["master_count"] == 1
    assert c1["status_reason"] == "UPDATE completed successfully"
    after = {n.name for n in assert_realised(magna, c1, workers=3)}
    assert before < after and len(after - before) == 1  # one node added, none replaced
    assert c2["node_count"] == 2
    assert_realised(magna, c2, workers=2)
    # The conductor's record of c1 ends with the update it realised.
    events = magna.api(f"/clusters/{magna.ids['c1']}/events")["events"]
    assert events[-1]["reason"] == "Converged", events
    assert events[-1]["message"] == "UPDATE_COMPLETE: 4 nodes ready", events


def test_cluster_resize_and_upgrade(magna: Magna) -> None:
    workers = [n for n in magna.nodes(magna.ids["c1"]) if n.role == "worker"]
    assert len(workers) == 3
    # The driver removes the newest nodes unless told otherwise: name the oldest.
    oldest = min(workers, key=lambda n: n.number)
    with magna.held():
        resized, upgraded = magna.many(
            ("cluster", "resize", "c1", "2", "--nodes-to-remove", oldest.name),
            ("cluster", "upgrade", "c2", "t1", "--max-batch-size", "2"),
            watch={0: magna.ids["c1"], 1: magna.ids["c2"]})
    assert resized.stdout.strip() == "Request to resize cluster c1 has been accepted."
    assert upgraded.stdout.strip() == "Request to upgrade cluster c2 has been accepted."
    assert resized.after["status"] == "UPDATE_IN_PROGRESS"
    # c2 is not held: it may have converged already, but it cannot have failed.
    assert upgraded.after["status"] in ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE")
    c1, c2 = magna.wait_clusters((magna.ids["c1"], "UPDATE_COMPLETE"),
                                 (magna.ids["c2"], "UPDATE_COMPLETE"))
    assert c1["node_count"] == 2 and c1["master_count"] == 1
    remaining = [n for n in assert_realised(magna, c1, workers=2) if n.role == "worker"]
    assert {n.name for n in remaining} == {n.name for n in workers} - {oldest.name}
    assert oldest.address not in c1["node_addresses"]
    worker_ng = magna.api(f"/clusters/{magna.ids['c1']}/nodegroups/default-worker")
    assert worker_ng["node_count"] == 2 and worker_ng["status"] == "UPDATE_COMPLETE"
    assert sorted(worker_ng["node_addresses"]) == sorted(n.address for n in remaining)

    assert c2["cluster_template_id"] == magna.ids["t1"]
    assert_realised(magna, c2, workers=2)
    # The driver applied the upgrade: its last converged apply names the new template.
    assert magna.applied(magna.ids["c2"])["template_uuid"] == magna.ids["t1"]


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
    api_address = magna.api(f"/clusters/{magna.ids['c1']}")["api_address"]
    assert re.fullmatch(r"tcp://10\.250\.\d{1,3}\.\d{1,3}:2375", api_address), api_address
    for result, where in ((plain, plain_dir), (certs, certs_dir), (keystone, keystone_dir)):
        # The driver deployed the cluster: the client knows where its Docker API is.
        assert "api_address is not known yet" not in result.stderr, result.stderr
        assert result.stdout.rstrip("\n").splitlines() == [
            f"export DOCKER_HOST={api_address}", f"export DOCKER_CERT_PATH={where}",
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


def fingerprint(pem: str) -> str:
    """How the fake driver records the CA it was handed (sha256 of the PEM text)."""
    return hashlib.sha256(pem.encode()).hexdigest()


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
    # The driver was handed this CA at its last apply.
    served_pem = magna.api(f"/certificates/{magna.ids['c1']}")["pem"]
    assert load_cert(served_pem) == ca
    assert magna.applied(magna.ids["c1"])["ca_fingerprint"] == fingerprint(served_pem)

    with magna.held():
        rotated = magna.coe("ca", "rotate", "c1", watch=magna.ids["c1"])
    assert rotated.stdout.strip() == (f"Request to rotate the CA certificate for cluster "
                                      f"{magna.ids['c1']} has been accepted.")
    # The new CA must reach the nodes: the cluster is updating until the driver has it.
    assert rotated.after["status"] == "UPDATE_IN_PROGRESS", rotated.after
    magna.wait_cluster(magna.ids["c1"], "UPDATE_COMPLETE")
    new_ca = load_cert(pem_block(magna.coe("ca", "show", "c1").stdout))
    assert new_ca != ca
    assert new_ca.public_key() != ca.public_key()
    with pytest.raises((ValueError, InvalidSignature)):
        cert.verify_directly_issued_by(new_ca)
    new_pem = magna.api(f"/certificates/{magna.ids['c1']}")["pem"]
    assert load_cert(new_pem) == new_ca
    assert magna.applied(magna.ids["c1"])["ca_fingerprint"] == fingerprint(new_pem)


def test_credential_rotate_not_supported(magna: Magna) -> None:
    result = magna.coe("credential", "rotate", "c1")
    # magnumclient catches the error, prints it and exits 0. The fake driver cannot rotate
    # credentials either. The error title is the message's first sentence, as upstream (no
    # final period).
    assert result.stdout.startswith(
        "Credential rotation failed: Credential rotation is not supported by driver "
        "(HTTP 400)"), result.stdout


# --- services and stats (before the nodegroup test changes node counts) ---------------------

def test_service_list_and_stats(magna: Magna) -> None:
    services, stats, clusters, nobody = magna.many(("service", "list", "-f", "json"),
                                                   ("stats", "list", "admin"),
                                                   ("cluster", "list", "-f", "json"),
                                                   ("stats", "list", "nobody"))
    listed = services.json()
    # One magna serve, one in-process conductor: exactly one service, as tempest expects.
    assert len(listed) == 1, listed
    service = listed[0]
    assert service["binary"] == "magnum-conductor"
    assert service["state"] == "up"
    assert service["disabled"] is False
    assert service["host"]
    raw = magna.api("/mservices")["mservices"]
    assert [(s["id"], s["host"], s["binary"]) for s in raw] == [
        (service["id"], service["host"], "magnum-conductor")]
    assert raw[0]["report_count"] > 0
    # It is alive: heartbeats keep counting.
    magna.poll("conductor heartbeat", lambda: magna.api("/mservices")["mservices"][0],
               lambda now: now["report_count"] > raw[0]["report_count"], timeout=10)

    # c1: 1 master + 2 workers; c2: 1 master + 2 workers; both converged.
    rows = clusters.json()
    values = parse_dict_table(stats.stdout)
    assert values == {"clusters": str(len(rows)),
                      "nodes": str(sum(r["node_count"] + r["master_count"] for r in rows))}
    assert values == {"clusters": "2", "nodes": "6"}, stats.stdout
    on_disk = sum(len(magna.nodes(r["uuid"])) for r in rows)
    assert on_disk == 6
    assert parse_dict_table(nobody.stdout) == {"clusters": "0", "nodes": "0"}


# --- nodegroups ---------------------------------------------------------------------------

def test_nodegroups(magna: Magna) -> None:
    c1_uuid = magna.ids["c1"]
    with magna.held():
        created = magna.coe("nodegroup", "create", "c1", "ng1", "--node-count", "2",
                            "--min-nodes", "1", "--max-nodes", "5", "--flavor", "m1.small",
                            "--node-labels", "env=dev",
                            "--node-taints", "dedicated=gpu:NoSchedule", watch=c1_uuid)
    match = re.fullmatch(rf"Request to create nodegroup ({UUID_RE}) accepted\n", created.stdout)
    assert match, created.stdout
    ng_uuid = match.group(1)
    # The cluster is updating while its new nodegroup is built.
    assert created.after["status"] == "UPDATE_IN_PROGRESS", created.after

    def ng1_nodes() -> list[fake.FakeNode]:
        return [n for n in magna.nodes(c1_uuid) if n.nodegroup == "ng1"]

    magna.poll("ng1 CREATE_COMPLETE (API)",
               lambda: magna.api(f"/clusters/{c1_uuid}/nodegroups/{ng_uuid}"),
               lambda body: reached(body, "CREATE_COMPLETE"), interval=0.1)
    shown = magna.poll("ng1 CREATE_COMPLETE",
                       lambda: magna.coe_json("nodegroup", "show", "c1", "ng1"),
                       lambda body: reached(body, "CREATE_COMPLETE"))
    assert sorted(shown["node_addresses"]) == sorted(n.address for n in ng1_nodes())
    assert len(shown["node_addresses"]) == shown["node_count"] == 2
    assert all(n.role == "worker" for n in ng1_nodes())

    # The conductor completes the nodegroup and the cluster in one transaction.
    listed, by_name, workers, cluster = magna.many(
        ("nodegroup", "list", "c1", "--limit", "10", "-f", "json"),
        ("nodegroup", "list", "c1", "--limit", "3", "--sort-key", "name", "--sort-dir",
         "desc", "-f", "json"),
        ("nodegroup", "list", magna.ids["c1"], "--role", "worker", "--limit", "10",
         "-f", "json"),
        ("cluster", "show", "c1", "-f", "json"))
    assert cluster.json()["status"] == "UPDATE_COMPLETE"
    # The cluster's node_addresses are those of all its worker nodegroups.
    assert_realised(magna, cluster.json(), workers=4)
    rows = {r["name"]: r for r in listed.json()}
    assert set(rows) == {"default-master", "default-worker", "ng1"}
    assert rows["default-master"]["role"] == "master"
    assert rows["default-master"]["node_count"] == 1
    assert rows["default-worker"]["node_count"] == 2
    assert rows["ng1"]["uuid"] == ng_uuid and rows["ng1"]["node_count"] == 2
    assert rows["ng1"]["flavor_id"] == "m1.small" and rows["ng1"]["role"] == "worker"
    assert rows["ng1"]["status"] == "CREATE_COMPLETE"
    assert [r["name"] for r in by_name.json()] == ["ng1", "default-worker", "default-master"]
    assert {r["name"] for r in workers.json()} == {"default-worker", "ng1"}
    body = shown
    assert body["uuid"] == ng_uuid and body["cluster_id"] == magna.ids["c1"]
    assert body["min_node_count"] == 1 and body["max_node_count"] == 5
    assert body["is_default"] is False
    assert body["image_id"] == "fake-image"
    assert body["node_labels"] == {"env": "dev"}
    assert body["node_taints"] == [{"key": "dedicated", "value": "gpu",
                                    "effect": "NoSchedule"}]

    # Independent changes (3 lies within both the old and the new bounds): sent together.
    with magna.held():
        updated, resized = magna.many(
            ("nodegroup", "update", "c1", "ng1", "--min-nodes", "0", "--max-nodes", "4",
             "--node-labels", "env=prod,tier=web", "--node-taints", "only:NoExecute"),
            ("cluster", "resize", "c1", "3", "--nodegroup", "ng1"), watch={1: c1_uuid})
    assert "has been accepted" in updated.stdout
    assert resized.stdout.strip() == "Request to resize cluster c1 has been accepted."
    assert resized.after["status"] == "UPDATE_IN_PROGRESS", resized.after
    magna.wait_cluster(c1_uuid, "UPDATE_COMPLETE")
    body = magna.coe_json("nodegroup", "show", "c1", ng_uuid)
    assert body["name"] == "ng1" and body["node_count"] == 3
    assert body["status"] == "UPDATE_COMPLETE"
    assert len(body["node_addresses"]) == 3
    assert sorted(body["node_addresses"]) == sorted(n.address for n in ng1_nodes())
    assert body["min_node_count"] == 0 and body["max_node_count"] == 4
    assert body["node_labels"] == {"env": "prod", "tier": "web"}
    assert body["node_taints"] == [{"key": "only", "value": "", "effect": "NoExecute"}]

    with magna.held():
        deleted = magna.coe("nodegroup", "delete", "c1", "ng1", watch=c1_uuid)
        # Until the driver reports its nodes gone, the nodegroup says it is being deleted.
        being_deleted = magna.api(f"/clusters/{c1_uuid}/nodegroups/{ng_uuid}")
    assert deleted.stdout.strip() == "Request to delete nodegroup ng1 has been accepted."
    assert deleted.after["status"] == "UPDATE_IN_PROGRESS", deleted.after
    assert being_deleted["status"] == "DELETE_IN_PROGRESS", being_deleted
    magna.wait_gone(f"/clusters/{c1_uuid}/nodegroups/{ng_uuid}",
                    "nodegroup", "show", "c1", ng_uuid, "-f", "json",
                    while_present=lambda r: r.json()["status"] == "DELETE_IN_PROGRESS")
    assert ng1_nodes() == []
    after, cluster = magna.many(("nodegroup", "list", "c1", "--limit", "10", "-f", "json"),
                                ("cluster", "show", "c1", "-f", "json"))
    assert {r["name"] for r in after.json()} == {"default-master", "default-worker"}
    assert cluster.json()["status"] == "UPDATE_COMPLETE"
    assert_realised(magna, cluster.json(), workers=2)


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
    # Both clusters use t1 now (c2 was upgraded to it): the template cannot go while they exist.
    in_use = magna.coe("cluster", "template", "delete", "t1")
    # The client reports the refusal on stdout, rc 0.
    assert in_use.stdout.startswith("Delete for cluster template t1 failed: ClusterTemplate "
                                    f"{magna.ids['t1']} is referenced by one or multiple "
                                    "clusters (HTTP 400)"), in_use.stdout

    result = magna.coe("cluster", "delete", "c1", magna.ids["c2"])
    assert "Request to delete cluster c1 has been accepted." in result.stdout
    assert f"Request to delete cluster {magna.ids['c2']} has been accepted." in result.stdout
    # Deleting is not held: the clusters may be gone already; until they are, they can only be
    # on their way out.
    with ThreadPoolExecutor(max_workers=2) as pool:
        c1, c2 = pool.map(lambda ident: magna.wait_gone(
            f"/clusters/{ident}", "cluster", "show", ident, "-f", "json",
            while_present=lambda r: r.json()["status"] == "DELETE_IN_PROGRESS"),
            ("c1", magna.ids["c2"]))
    assert "Cluster c1 could not be found (HTTP 404)" in c1.stderr
    assert f"Cluster {magna.ids['c2']} could not be found (HTTP 404)" in c2.stderr
    # Nothing of them is left on the driver's side.
    for name in ("c1", "c2"):
        assert magna.nodes(magna.ids[name]) == []
        assert not Path(magna.state_dir, fake.ROOT, magna.ids[name]).exists()

    clusters, stats, deleted = magna.many(("cluster", "list", "-f", "json"),
                                          ("stats", "list", "admin"),
                                          ("cluster", "template", "delete", "t1", "t2"))
    assert clusters.json() == []
    assert parse_dict_table(stats.stdout) == {"clusters": "0", "nodes": "0"}, stats.stdout
    assert "failed" not in deleted.stdout, deleted.stdout
    assert "Request to delete cluster template t1 has been accepted." in deleted.stdout
    assert "Request to delete cluster template t2 has been accepted." in deleted.stdout
    assert magna.coe_json("cluster", "template", "list") == []
