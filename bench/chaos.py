"""The chaos run: clusters created, scaled and deleted while processes die at random.

``magna-api`` and three ``magna-conductor`` processes on a scratch PostgreSQL database and the
host's RabbitMQ (``bench/deployment.py``), local drivers. For ``chaos_seconds`` a random
generator seeded with ``chaos_seed`` picks, every 0.5 to 3 s, one of:

- work: create a swarm-mode cluster of 1+1 or 1+2 (a Kubernetes 1+1 now and then when the
  host cache holds the Kubernetes build, as ``tests/support/kubernetes.py`` finds it), scale a
  settled one by one worker up or down, delete one;
- a fault: SIGKILL a conductor, any or one holding a cluster's reservation (mid-operation;
  started again 1 to 5 s later), pause one with SIGSTOP for 2 to 10 s, SIGKILL the engine
  (dockerd)
  of a random node, SIGKILL the API (started again on its port 1 to 4 s later), stop the
  RabbitMQ application (``rabbitmqctl stop_app``, started again 2 to 6 s later; the server
  process itself is never stopped).

Then everything is started again, and every cluster gets a minute to reach a terminal state.
Each is judged against what is on the host: a ``*_COMPLETE`` cluster is truthful when it has
as many node namespaces as the API says nodes and every engine answers on its socket, or when
its health says UNHEALTHY; ``*_FAILED`` says so itself; a cluster still in progress did not
converge; one that vanished without a delete request is lost. Finally everything is deleted
and the host is searched for anything of any cluster of the run (``host_leftovers``).

Counts of every fault, every request and every outcome go into the JSON; the verdicts are
0 lost, 0 untruthful, 0 not converged and 0 leaked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import docker
import httpx

from bench import deployment
from bench.settings import Settings
from bench.stats import target
from magna.drivers.local_nodes import network

LOG = logging.getLogger(__name__)
POOL = "10.239.0.0/16"
CONDUCTORS = 3
MAX_CLUSTERS = 4
SETTLE_S = 60.0
DELETE_S = 240.0
KUBE_CACHE = "/var/cache/magna/kubernetes"
WORK = {"create": 25, "scale": 20, "delete": 12}
FAULTS = {"kill_conductor": 8, "kill_holder": 10, "pause_conductor": 6, "kill_engine": 10,
          "kill_api": 8, "stop_broker": 6}
PAUSED = "paused:"
IN_PROGRESS = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")
SETTLED = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


@dataclass
class Tracked:
    uuid: str
    coe: str
    deleting: bool = False


@dataclass
class Chaos:
    running: deployment.Running
    rng: random.Random
    templates: dict[str, str]
    clusters: dict[str, Tracked] = field(default_factory=dict)
    faults: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    revive_at: dict[str, float] = field(default_factory=dict)

    # -- one step ------------------------------------------------------------------------

    def step(self) -> None:
        self.revive(time.monotonic())
        actions = {**WORK, **FAULTS}
        name = self.rng.choices(list(actions), weights=list(actions.values()))[0]
        getattr(self, name)()

    def _call(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        try:
            response = self.running.http.request(method, path, **kwargs)
        except httpx.HTTPError:
            self.requests[f"{kind}: API unreachable"] += 1
            return None
        self.requests[f"{kind}: {response.status_code}"] += 1
        return response

    def _live(self) -> list[Tracked]:
        return [c for uuid, c in sorted(self.clusters.items()) if not c.deleting]

    # -- work ----------------------------------------------------------------------------

    def create(self) -> None:
        live = self._live()
        if len(live) >= MAX_CLUSTERS:
            return self.delete()
        coe = "swarm-mode"
        if "kubernetes" in self.templates and not any(c.coe == "kubernetes" for c in live) \
                and self.rng.random() < 0.25:
            coe = "kubernetes"
        workers = 1 if coe == "kubernetes" else self.rng.choice((1, 2))
        response = self._call(f"create {coe}", "POST", "/v1/clusters", json={
            "name": f"chaos-{len(self.clusters)}", "cluster_template_id": self.templates[coe],
            "node_count": workers})
        if response is not None and response.status_code == 202:
            uuid = str(response.json()["uuid"])
            self.running.created.append(uuid)
            self.clusters[uuid] = Tracked(uuid, coe)

    def scale(self) -> None:
        listed = self._call("list", "GET", "/v1/clusters?limit=1000")
        if listed is None or listed.status_code != 200:
            return
        live = {c.uuid for c in self._live()}
        settled = sorted((item["uuid"], int(item["node_count"]))
                         for item in listed.json()["clusters"]
                         if item["uuid"] in live and item["status"] in SETTLED)
        if not settled:
            return
        uuid, count = self.rng.choice(settled)
        wanted = count + 1 if count == 1 else count - 1 if count == 3 else \
            count + self.rng.choice((-1, 1))
        self._call("scale", "PATCH", f"/v1/clusters/{uuid}", json=[
            {"op": "replace", "path": "/node_count", "value": wanted}])

    def delete(self) -> None:
        live = self._live()
        if not live:
            return
        cluster = self.rng.choice(live)
        response = self._call("delete", "DELETE", f"/v1/clusters/{cluster.uuid}")
        # NOTE: a delete whose answer was lost (the API died) may have been accepted: a
        # cluster gone later is then deleted, not lost.
        if response is None or response.status_code in (204, 404):
            cluster.deleting = True

    # -- faults --------------------------------------------------------------------------

    def kill_conductor(self) -> None:
        alive = [name for name, proc in sorted(self.running.deploy.conductors.items())
                 if proc.alive()]
        if not alive:
            return
        name = self.rng.choice(alive)
        self.running.deploy.conductors[name].kill9()
        self.faults["conductor killed"] += 1
        self.revive_at[name] = time.monotonic() + self.rng.uniform(1, 5)

    def kill_holder(self) -> None:
        """SIGKILL the conductor in the middle of an operation on a cluster, if one is."""
        deploy = self.running.deploy
        holders = sorted({h for uuid in self.clusters
                          if (h := deploy.holder(uuid)) in deploy.conductors
                          and deploy.conductors[h].alive()})
        if not holders:
            return
        name = self.rng.choice(holders)
        deploy.conductors[name].kill9()
        self.faults["conductor killed mid-operation"] += 1
        self.revive_at[name] = time.monotonic() + self.rng.uniform(1, 5)

    def pause_conductor(self) -> None:
        """SIGSTOP a conductor (and what it runs) for 2 to 10 s: a paused VM, a stalled process;
        past ``dead_after`` its clusters move, and its lease must have stopped it first."""
        deploy = self.running.deploy
        running = [name for name, proc in sorted(deploy.conductors.items())
                   if proc.alive() and PAUSED + name not in self.revive_at]
        if not running:
            return
        name = self.rng.choice(running)
        os.killpg(deploy.conductors[name].pid, signal.SIGSTOP)
        self.faults["conductor paused"] += 1
        self.revive_at[PAUSED + name] = time.monotonic() + self.rng.uniform(2, 10)

    def kill_api(self) -> None:
        api = self.running.deploy.api
        if api is None or not api.alive():
            return
        api.kill9()
        self.faults["API killed"] += 1
        self.revive_at["api"] = time.monotonic() + self.rng.uniform(1, 4)

    def stop_broker(self) -> None:
        if "broker" in self.revive_at:
            return
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True)
        self.faults["RabbitMQ stopped"] += 1
        self.revive_at["broker"] = time.monotonic() + self.rng.uniform(2, 6)

    def kill_engine(self) -> None:
        engines = sorted(pid for c in self._live() for pid in _engines(c.uuid))
        if not engines:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.rng.choice(engines), signal.SIGKILL)
            self.faults["node engine killed"] += 1

    # -- restarts ------------------------------------------------------------------------

    def revive(self, now: float) -> None:
        for name, when in sorted(self.revive_at.items()):
            if when <= now:
                self._start(name)
                del self.revive_at[name]

    def revive_all(self) -> None:
        self.revive(float("inf"))

    def _start(self, name: str) -> None:
        if name.startswith(PAUSED):
            proc = self.running.deploy.conductors[name.removeprefix(PAUSED)]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)  # gone if it was killed meanwhile
        elif name == "broker":
            subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True)
            subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True)
        elif name == "api":
            assert self.running.deploy.api is not None
            self.running.deploy.api.start()  # same config, same port
        else:
            self.running.deploy.start_conductor(name)


def _engines(cluster_uuid: str) -> list[int]:
    """PIDs of the cluster's node engines: the dockerd in each node's network namespace."""
    found = []
    for netns in deployment.namespaces(cluster_uuid):
        pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True,
                              check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(OSError), open(f"/proc/{pid}/comm") as handle:
                if handle.read().strip() == "dockerd":
                    found.append(int(pid))
    return found


def _engines_answer(cluster_uuid: str) -> tuple[int, int]:
    """(nodes with an engine socket, of those answering a ping)."""
    run = f"/run/magna/{network.short_id(cluster_uuid)}"
    sockets = [os.path.join(run, entry, "docker.sock") for entry in sorted(os.listdir(run))
               if entry.isdigit()] if os.path.isdir(run) else []
    answering = 0
    for path in sockets:
        try:
            client = docker.APIClient(base_url=f"unix://{path}", version="auto", timeout=3)
            with contextlib.closing(client):
                answering += bool(client.ping())
        except Exception:  # not answering, whatever the way
            LOG.debug("engine %s does not answer", path)
    return len(sockets), answering


def judge(body: dict[str, Any] | None, cluster: Tracked) -> tuple[str, str]:
    """One cluster's outcome, and a detail when it is not a plain good one."""
    if body is None:
        return ("deleted", "") if cluster.deleting else ("lost", "vanished without a delete")
    status = str(body["status"])
    if status in IN_PROGRESS:
        return "not converged", f"{status}: {body.get('status_reason')}"
    if status.endswith("_FAILED"):
        return "failed (says so)", f"{status}: {body.get('status_reason')}"
    expected = int(body["master_count"]) + int(body["node_count"])
    present = len(deployment.namespaces(cluster.uuid))
    sockets, answering = _engines_answer(cluster.uuid) if cluster.coe == "swarm-mode" \
        else (present, present)
    if present == expected and answering == expected:
        return f"{status} and true", ""
    if body.get("health_status") == "UNHEALTHY":
        return f"{status}, UNHEALTHY and says so", str(body.get("health_status_reason"))
    return "untruthful", (f"{status}: {expected} nodes by the API, {present} namespaces, "
                          f"{answering}/{sockets} engines answering, health "
                          f"{body.get('health_status')}")


def _read(http: httpx.Client, uuid: str) -> dict[str, Any] | None:
    response = http.get(f"/v1/clusters/{uuid}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _wait_api(http: httpx.Client, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if http.get("/v1").status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("the API did not come back")


def adopt_unanswered(chaos: Chaos) -> int:
    """Track the clusters the API accepted while the answer was lost (it died mid-request)."""
    listed = chaos.running.http.get("/v1/clusters?limit=1000")
    listed.raise_for_status()
    found = 0
    for item in listed.json()["clusters"]:
        if item["uuid"] not in chaos.clusters:
            coe = next((c for c, t in chaos.templates.items()
                        if t == item["cluster_template_id"]), "swarm-mode")
            chaos.clusters[item["uuid"]] = Tracked(item["uuid"], coe)
            chaos.running.created.append(item["uuid"])
            found += 1
    return found


def settle(chaos: Chaos) -> tuple[Counter[str], dict[str, str], float]:
    """Wait up to SETTLE_S for every cluster to leave *_IN_PROGRESS; judge each."""
    http = chaos.running.http
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_S:
        bodies = [_read(http, uuid) for uuid in chaos.clusters]
        if not any(b is not None and b["status"] in IN_PROGRESS for b in bodies):
            break
        time.sleep(1.0)
    waited = time.monotonic() - started
    outcomes: Counter[str] = Counter()
    details: dict[str, str] = {}
    for uuid, cluster in sorted(chaos.clusters.items()):
        outcome, detail = judge(_read(http, uuid), cluster)
        outcomes[outcome] += 1
        if detail:
            details[uuid] = f"{outcome}: {detail}"
    return outcomes, details, waited


def delete_everything(chaos: Chaos) -> list[str]:
    """Delete every cluster still there; the UUIDs that were not gone after DELETE_S."""
    http = chaos.running.http
    for uuid, cluster in sorted(chaos.clusters.items()):
        with contextlib.suppress(httpx.HTTPError):
            http.delete(f"/v1/clusters/{uuid}")
        cluster.deleting = True
    deadline = time.monotonic() + DELETE_S
    left = list(chaos.clusters)
    while left and time.monotonic() < deadline:
        left = [uuid for uuid in left if _read(http, uuid) is not None]
        time.sleep(1.0)
    return left


def kubernetes_built() -> bool:
    """Whether the host cache holds the Kubernetes build, without waiting for one."""
    from magna.common.exceptions import TemporaryError
    from magna.drivers.local_kubernetes import binaries

    try:
        binaries.Binaries(KUBE_CACHE, retry_after=600).require(
            binaries.version_of(None, "v1.20.2"))
    except (TemporaryError, OSError):
        return False
    return True


def _templates(http: httpx.Client) -> dict[str, str]:
    templates = {"swarm-mode": deployment.swarm_template(http)}
    if kubernetes_built():
        response = http.post("/v1/clustertemplates", json={
            "name": "bench-kubernetes", "coe": "kubernetes", "image_id": "fedora-coreos-latest",
            "external_network_id": "public", "flavor_id": "m1.small",
            "master_flavor_id": "m1.small"})
        response.raise_for_status()
        templates["kubernetes"] = str(response.json()["uuid"])
    return templates


def _chaos(chaos: Chaos, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chaos.step()
            time.sleep(chaos.rng.uniform(0.5, 3.0))
    finally:
        chaos.revive_all()


def run(settings: Settings) -> dict[str, Any]:
    rng = random.Random(settings.chaos_seed)
    with deployment.deployment(settings.work, "chaos", CONDUCTORS, POOL) as running:
        chaos = Chaos(running, rng, _templates(running.http))
        _chaos(chaos, settings.chaos_seconds)
        _wait_api(running.http, 30)
        unanswered = adopt_unanswered(chaos)
        outcomes, details, waited = settle(chaos)
        stuck = delete_everything(chaos)
        leaked = {uuid: found for uuid in running.created
                  if (found := deployment.host_leftovers(running.state_dir, uuid))}
    bad = {key: sum(n for k, n in outcomes.items() if k == key)
           for key in ("lost", "untruthful", "not converged")}
    return {"seed": settings.chaos_seed, "seconds": settings.chaos_seconds,
            "conductors": CONDUCTORS, "kubernetes": "kubernetes" in chaos.templates,
            "faults": dict(sorted(chaos.faults.items())),
            "requests": dict(sorted(chaos.requests.items())),
            "clusters": len(chaos.clusters), "accepted_unanswered": unanswered,
            "outcomes": dict(sorted(outcomes.items())),
            "details": details, "settle_s": round(waited, 1), "delete_stuck": stuck,
            "leaked": leaked,
            "targets": [target("lost clusters", bad["lost"], 1, ""),
                        target("untruthful clusters", bad["untruthful"], 1, ""),
                        target("not converged a minute after the chaos", bad["not converged"],
                               1, ""),
                        target("clusters with leftovers on the host", len(leaked), 1, "")]}
