"""The local Swarm-mode driver (entry point ``local-swarm``): every node is a network namespace
with its own hostname and its own dockerd, on a per-cluster bridge of this host.

``apply`` composes the pieces in a fixed order, each idempotent, so a pass converges from any
partial state a crash left (a namespace without an engine, an engine outside the swarm, a stale
pid file)::

    tools present -> subnet allocated (network.json) -> node slots (slots.json) -> bridge + iptables
    -> client certificate -> per node: namespace + veth, server certificate, daemon.json, cgroup
    limits, engine -> engines answer -> outdated engines restart a batch at a time -> swarm init
    on master 0 -> other nodes join -> labels and availability -> nodes Ready -> Observed

State on disk::

    <state_dir>/local-swarm/<cluster uuid>/      created first, removed last (the anchor)
        network.json  slots.json  client/{ca,cert,key}.pem
        <node>/ daemon.json engine.log ca.pem server-{cert,key}.pem data/
    <run_dir>/<short id>/<slot>/                 exec-root, docker.sock, docker.pid

``delete`` (and ``collect`` for clusters without a row) removes processes, mounts, namespaces,
veths, the bridge, its iptables rules, cgroups, the run dir and finally the state dir.

Nodes are ``<nodegroup>-<i>`` with a slot (its IP) that never changes while the node exists.
Scaling down removes the nodes named in ``nodes_to_remove`` first, then the newest: each leaves
the swarm, the manager forgets it, its pieces are deleted, and its slot is dropped last.

Each node's flavor is a cgroup limit (``limits.py``), its nodegroup's labels and taints become
swarm labels and availability (``profile.py``), and engines whose configuration or certificates
changed restart a batch at a time (``rollout.py``).

NOTE: additional nodegroups get nodes like any other group, but the load balancer, registry and
auto-healing come later.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import docker
import requests
from oslo_config import cfg

from magna.common.exceptions import PermanentError, TemporaryError
from magna.drivers.base import (
    ClusterPKI,
    ClusterSpec,
    ClusterType,
    Driver,
    GarbageCollecting,
    NodeStatus,
    Observed,
)
from magna.drivers.catalog import Catalog
from magna.drivers.local_swarm import engine, host, limits, network, pki, profile, rollout, swarm
from magna.drivers.local_swarm.catalog import IMAGES, LocalCatalog

ROOT = "local-swarm"
SLOTS = "slots.json"
NOTED = "notes-sent"
READY_WAIT = 20.0
MAX_EXITS = 3
OBSERVE_TIMEOUT = 5.0
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Node:
    """One planned node: where it lives, what it is called, and its engine."""

    name: str
    nodegroup: str
    role: str
    slot: int
    address: str
    engine: engine.EngineSpec
    net: network.NodeNetwork
    profile: profile.NodeProfile = field(default_factory=lambda: profile.NodeProfile(None))


class LocalSwarmDriver(Driver, GarbageCollecting):
    name = "local-swarm"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._catalog = LocalCatalog(conf.state_dir)
        self.root = os.path.join(conf.state_dir, ROOT)
        self.opts = conf.local_swarm

    @property
    def provides(self) -> Sequence[ClusterType]:
        distros = sorted({image.os_distro for image in IMAGES if image.os_distro})
        return [ClusterType(server, distro, "swarm-mode")
                for server in ("vm", "bm") for distro in distros]

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def validate(self, spec: ClusterSpec) -> None:
        if spec.coe != "swarm-mode":
            raise PermanentError(f"The local Swarm driver builds swarm-mode clusters, not "
                                 f"{spec.coe}.")
        masters = spec.nodegroup("master")
        if masters is None or masters.node_count < 1:
            raise PermanentError("A swarm-mode cluster needs at least one master.")

    # -- the contract ---------------------------------------------------------------------

    def apply(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        host.require_tools()
        try:
            nodes = self._build(spec, pki_)
            self._start_engines(spec, nodes)
            self._form_swarm(spec, nodes)
            self._apply_profiles(spec, nodes)
            self._retire_strays(spec, nodes[0])
            return self._observed(spec, nodes, wait=READY_WAIT, notes=True)
        except host.CommandFailed as exc:
            raise PermanentError(f"Building the cluster on this host failed: {exc}") from None
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise TemporaryError(f"The cluster's engines are not answering yet: {exc}",
                                 delay=2.0) from None

    def delete(self, spec: ClusterSpec) -> bool:
        try:
            self._remove(spec.uuid)
        except host.CommandFailed as exc:
            # NOTE: e.g. a namespace still busy; every step is idempotent, so try again.
            raise TemporaryError(f"Removing the cluster is not finished: {exc}",
                                 delay=5.0) from None
        return not os.path.exists(self._cluster_dir(spec.uuid))

    def observe(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        if not os.path.isdir(self._cluster_dir(spec.uuid)):
            return Observed(converged=False)
        allocation = network.read_allocation(self._cluster_dir(spec.uuid))
        if allocation is None:
            return Observed(converged=False)
        nodes = self._plan(spec, allocation, assign=False)
        return self._observed(spec, nodes, wait=0.0, notes=False)

    def leftovers(self, known_clusters: set[str]) -> list[str]:
        """Clusters in our state dir without a row, and clusters of any state dir on this host
        whose state dir is gone (a test's temporary directory, say) but whose namespaces and
        bridge remain: the state dir is created first and removed last, so those are orphans."""
        found = set(self._orphans())
        if os.path.isdir(self.root):
            found |= {entry for entry in os.listdir(self.root) if UUID_RE.match(entry)}
        return sorted(found - known_clusters)

    def _orphans(self) -> list[str]:
        run_root = self.opts.run_dir
        if not os.path.isdir(run_root):
            return []
        found = []
        for entry in os.listdir(run_root):
            with contextlib.suppress(OSError, ValueError, KeyError), \
                    open(os.path.join(run_root, entry, network.OWNER_FILE)) as handle:
                owner = json.load(handle)
                if not os.path.isdir(owner["cluster_dir"]) and UUID_RE.match(owner["uuid"]):
                    found.append(str(owner["uuid"]))
        return found

    def collect(self, cluster_uuid: str) -> None:
        self._remove(cluster_uuid)

    # -- layout -----------------------------------------------------------------------------

    def _cluster_dir(self, cluster_uuid: str) -> str:
        return os.path.join(self.root, cluster_uuid)

    def _run_dir(self, cluster_uuid: str) -> str:
        return os.path.join(self.opts.run_dir, network.short_id(cluster_uuid))

    def _plan(self, spec: ClusterSpec, allocation: network.Allocation, *,
              assign: bool) -> list[Node]:
        slots = self._read_slots(spec.uuid)
        wanted = planned_names(spec, list(slots))
        if assign:
            slots = self._write_slots(spec.uuid, [name for name, _, _ in wanted], drop=())
        return [self._node(spec, allocation, name, group, role, slots[name])
                for name, group, role in wanted if name in slots]

    def _strays(self, spec: ClusterSpec, allocation: network.Allocation) -> list[Node]:
        """Nodes that exist (have a slot) but the spec no longer asks for."""
        slots = self._read_slots(spec.uuid)
        wanted = {name for name, _, _ in planned_names(spec, list(slots))}
        return [self._node(spec, allocation, name, group_of(name), "", slot)
                for name, slot in sorted(slots.items()) if name not in wanted]

    def _node(self, spec: ClusterSpec, allocation: network.Allocation, name: str, group: str,
              role: str, slot: int) -> Node:
        address = str(allocation.address(slot))
        netns = network.netns_name(spec.uuid, name)
        short = network.short_id(spec.uuid)
        ng = next((ng for ng in spec.nodegroups if ng.name == group), None)
        spec_ = engine.EngineSpec(
            node_dir=os.path.join(self._cluster_dir(spec.uuid), name),
            run_dir=os.path.join(self._run_dir(spec.uuid), str(slot)),
            hostname=hostname(spec.name, name), netns=netns, address=address,
            cgroup_parent=f"/magna/{short}/{name}", tls=not spec.tls_disabled,
            dns=(spec.dns_nameserver,) if spec.dns_nameserver else (),
            environment=profile.engine_environment(spec),
            labels=(f"magna.image={profile.image_name(spec, ng)}",))
        net = network.NodeNetwork(netns=netns, veth=f"mgv{short}{slot}",
                                  bridge=network.bridge_name(spec.uuid),
                                  address=allocation.address(slot), allocation=allocation)
        return Node(name=name, nodegroup=group, role=role, slot=slot, address=address,
                    engine=spec_, net=net,
                    profile=profile.profile_for(spec, ng) if ng else profile.NodeProfile(None))

    def _read_slots(self, cluster_uuid: str) -> dict[str, int]:
        try:
            with open(os.path.join(self._cluster_dir(cluster_uuid), SLOTS)) as handle:
                current: dict[str, int] = json.load(handle)
                return current
        except FileNotFoundError:
            return {}

    def _write_slots(self, cluster_uuid: str, names: Sequence[str], *,
                     drop: Sequence[str]) -> dict[str, int]:
        with network.locked(self.root):
            current = self._read_slots(cluster_uuid)
            wanted = {name: slot for name, slot in assign_slots(current, names).items()
                      if name not in drop}
            if wanted != current:
                network.write_json(os.path.join(self._cluster_dir(cluster_uuid), SLOTS), wanted)
            return wanted

    # -- apply phases -----------------------------------------------------------------------

    def _build(self, spec: ClusterSpec, pki_: ClusterPKI) -> list[Node]:
        allocation = network.allocate(self.root, spec.uuid, self.opts.subnet_pool,
                                      self.opts.subnet_prefix, run_root=self.opts.run_dir)
        nodes = self._plan(spec, allocation, assign=True)
        network.Bridge(network.bridge_name(spec.uuid), allocation).apply()
        pki.ensure(pki.client_files(self._cluster_dir(spec.uuid)), pki.admin_request(), pki_)
        for node in nodes:
            node.net.apply()
            pki.ensure(pki.server_files(node.engine.node_dir),
                       pki.server_request(node.engine.hostname, node.address), pki_)
            engine.write_config(node.engine)
        return nodes

    def _start_engines(self, cluster: ClusterSpec, nodes: list[Node]) -> None:
        """Start the engines that do not run (all at once), then roll out restarts to those
        that run with an outdated configuration or certificates (``rollout.py``)."""
        started: dict[str, int] = {}
        stale = []
        for node in nodes:
            spec = node.engine
            limits.ensure(spec.cgroup_parent, node.profile.flavor)
            want = engine.desired_hash(spec, pki.server_files(spec.node_dir).digest())
            pid = engine.pid_of(spec)
            if pid is not None and self._hung(spec):
                engine.stop(spec, self.opts.stop_timeout)
                pid = None
            if pid is not None and engine.started_hash(spec) != want:
                stale.append(self._member(node, want))
            started[node.name] = pid if pid is not None else engine.start(spec, want)
        self._wait_engines(nodes, started)
        if stale:
            managers = [self._member(node, "") for node in nodes if node.role == "master"]
            rollout.Rollout(stop_timeout=self.opts.stop_timeout,
                            ready_timeout=self.opts.engine_start_timeout + READY_WAIT,
                            call_timeout=self.opts.swarm_timeout,
                            ).run(stale, managers, cluster.max_batch_size)

    @staticmethod
    def _member(node: Node, config_hash: str) -> rollout.Member:
        return rollout.Member(name=node.name, manager=node.role == "master", engine=node.engine,
                              config_hash=config_hash, availability=node.profile.availability)

    def _hung(self, spec: engine.EngineSpec) -> bool:
        """Running for longer than it may take to start, yet not answering on its socket."""
        age = engine.seconds_since_start(spec)
        return age > self.opts.engine_start_timeout and not engine.ping(spec)

    def _wait_engines(self, nodes: list[Node], pids: dict[str, int]) -> None:
        deadline = time.monotonic() + self.opts.engine_start_timeout
        pending = list(nodes)
        while True:
            pending = [node for node in pending if not engine.ping(node.engine)]
            if not pending:
                for node in nodes:
                    engine.reset_exits(node.engine)
                return
            for node in pending:
                if not engine.alive(pids[node.name]):
                    self._exited(node)
            if time.monotonic() > deadline:
                raise TemporaryError(f"Waiting for the engines of "
                                     f"{', '.join(n.name for n in pending)} to start.", delay=2.0)
            time.sleep(0.2)

    def _exited(self, node: Node) -> None:
        """An engine that exits on start is retried; the third time in a row it is a failure
        the user must look at (the reason carries the end of its log)."""
        tail = engine.log_tail(node.engine)
        if engine.record_exit(node.engine) >= MAX_EXITS:
            raise PermanentError(f"The engine of node {node.name} keeps exiting: {tail}")
        raise TemporaryError(f"The engine of node {node.name} exited; starting it again.",
                             delay=1.0)

    def _client(self, spec: ClusterSpec, node: Node,
                timeout: float | None = None) -> docker.DockerClient:
        files = None if spec.tls_disabled else pki.client_files(self._cluster_dir(spec.uuid))
        return swarm.connect(node.address, files, timeout or self.opts.swarm_timeout)

    def _form_swarm(self, spec: ClusterSpec, nodes: list[Node]) -> None:
        first = nodes[0]
        with contextlib.closing(self._client(spec, first)) as leader:
            if swarm.membership(leader).state == "inactive":
                swarm.init(leader, first.address)
            tokens = swarm.tokens(leader)
            known = swarm.nodes(leader)
            for node in nodes[1:]:
                token = tokens["Manager" if node.role == "master" else "Worker"]
                self._join(spec, node, leader, first.address, token, known)

    def _join(self, spec: ClusterSpec, node: Node, leader: docker.DockerClient,
              leader_address: str, token: str, known: dict[str, swarm.SwarmNode]) -> None:
        with contextlib.closing(self._client(spec, node)) as client:
            member = swarm.membership(client)
            if member.state == "pending" or (member.state == "active"
                                             and member.node_id in known):
                return
            if member.state != "inactive":
                swarm.leave(client)  # in a swarm the leader does not know, or in error
            # NOTE: an entry with this hostname belongs to the node's former self (its data
            # was lost); it would stay "Down" in `docker node ls` forever.
            swarm.forget(leader, node.engine.hostname)
            swarm.join(client, address=node.address, manager_address=leader_address,
                       token=token)

    def _apply_profiles(self, spec: ClusterSpec, nodes: list[Node]) -> None:
        """Labels and availability of every node (idempotent: only differences are written)."""
        with contextlib.closing(self._client(spec, nodes[0])) as leader:
            profile.apply(leader, {node.engine.hostname: node.profile for node in nodes})

    def _retire_strays(self, spec: ClusterSpec, leader: Node) -> None:
        """Scale-down: each node the spec no longer wants leaves the swarm, is forgotten by the
        manager, and its engine, namespace and files go; its slot is dropped last, so a crash
        anywhere in between repeats the (idempotent) removal on the next pass."""
        allocation = leader.net.allocation
        for node in self._strays(spec, allocation):
            with contextlib.suppress(docker.errors.DockerException, requests.RequestException), \
                    contextlib.closing(self._client(spec, node)) as client:
                swarm.leave(client)
            engine.stop(node.engine, self.opts.stop_timeout)
            engine.clear_remains(node.engine)
            with contextlib.closing(self._client(spec, leader)) as client:
                swarm.forget(client, node.engine.hostname)
            node.net.delete()
            limits.remove(node.engine.cgroup_parent)
            for path in (node.engine.node_dir, node.engine.run_dir):
                engine.unmount_under(path)
                shutil.rmtree(path, ignore_errors=True)
            self._write_slots(spec.uuid, (), drop=(node.name,))

    # -- observing --------------------------------------------------------------------------

    def _observed(self, spec: ClusterSpec, nodes: list[Node], *, wait: float,
                  notes: bool) -> Observed:
        if not nodes:
            return Observed(converged=False)
        deadline = time.monotonic() + wait
        while True:
            observed = self._look(spec, nodes)
            if observed.converged or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if notes and observed.converged:
            return self._with_notes(spec, observed)
        return observed

    def _look(self, spec: ClusterSpec, nodes: list[Node]) -> Observed:
        ids: dict[str, str] = {}
        version = ""
        swarm_nodes: dict[str, swarm.SwarmNode] = {}
        for node in nodes:
            with contextlib.suppress(docker.errors.DockerException, requests.RequestException), \
                    contextlib.closing(self._client(spec, node, OBSERVE_TIMEOUT)) as client:
                ids[node.name] = swarm.membership(client).node_id
                if node is nodes[0]:
                    version = swarm.versions(client)
                    swarm_nodes = swarm.nodes(client)
        statuses = [_status(node, swarm_nodes.get(ids.get(node.name, ""))) for node in nodes]
        return Observed(
            converged=not self._strays(spec, nodes[0].net.allocation)
            and len(nodes) == sum(ng.node_count for ng in spec.nodegroups if ng.present)
            and all(status.healthy for status in statuses),
            api_address=f"tcp://{nodes[0].address}:{engine.PORT}", stack_id=spec.uuid,
            coe_version=version or None, container_version=version or None, nodes=statuses)

    def _with_notes(self, spec: ClusterSpec, observed: Observed) -> Observed:
        marker = os.path.join(self._cluster_dir(spec.uuid), NOTED)
        if os.path.exists(marker) or host.has_ipvs():
            return observed
        with open(marker, "w") as handle:
            handle.write("ipvs\n")
        return Observed(converged=observed.converged, api_address=observed.api_address,
                        stack_id=observed.stack_id, coe_version=observed.coe_version,
                        container_version=observed.container_version, nodes=observed.nodes,
                        notes=[host.IPVS_NOTE])

    # -- removal ----------------------------------------------------------------------------

    def _remove(self, cluster_uuid: str) -> None:
        cluster_dir = self._cluster_dir(cluster_uuid)
        run_dir = self._run_dir(cluster_uuid)
        self._stop_processes(cluster_uuid, cluster_dir, run_dir)
        engine.unmount_under(cluster_dir)
        engine.unmount_under(run_dir)
        for netns in network.namespaces_of(cluster_uuid):
            # NOTE: another process (a garbage collector elsewhere) may remove it first.
            if not host.probe("ip", "netns", "del", netns) and os.path.exists(
                    os.path.join(network.NS_DIR, netns)):
                host.run("ip", "netns", "del", netns)
        for veth in network.veths_of(cluster_uuid):
            host.probe("ip", "link", "del", veth)
        allocation = network.read_allocation(cluster_dir)
        bridge = network.bridge_name(cluster_uuid)
        if allocation is not None or os.path.exists(f"/sys/class/net/{bridge}"):
            network.Bridge(bridge, allocation or network.Allocation(_ANY)).delete()
        host.delete_rules_mentioning(bridge)
        _remove_cgroups(network.short_id(cluster_uuid))
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(cluster_dir, ignore_errors=True)

    def _stop_processes(self, cluster_uuid: str, cluster_dir: str, run_dir: str) -> None:
        """SIGTERM every engine of the cluster, wait (bounded), then SIGKILL what is left,
        including anything still inside one of the cluster's namespaces."""
        pids = engine.processes_using(cluster_dir, run_dir)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.opts.stop_timeout
        while any(engine.alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        stragglers = engine.processes_using(cluster_dir, run_dir)
        for netns in network.namespaces_of(cluster_uuid):
            stragglers += [int(p) for p in host.run("ip", "netns", "pids", netns).split()]
        for pid in stragglers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while any(engine.alive(pid) for pid in stragglers) and time.monotonic() < deadline:
            time.sleep(0.1)


_ANY = ipaddress.IPv4Network("0.0.0.0/32")


def planned_names(spec: ClusterSpec, existing: Sequence[str]) -> list[tuple[str, str, str]]:
    """(node name, nodegroup, role) for every node the spec asks for, masters first.

    Existing nodes are kept, except those named in ``nodes_to_remove`` and, beyond the wanted
    count, the newest; missing ones get the lowest unused ``<nodegroup>-<i>``.
    """
    groups = sorted((ng for ng in spec.nodegroups if ng.present),
                    key=lambda ng: (ng.role != "master", ng.name))
    planned = []
    for ng in groups:
        mine = sorted((name for name in existing if group_of(name) == ng.name), key=_index)
        keep = [name for name in mine if name not in ng.nodes_to_remove][:ng.node_count]
        index = 0
        while len(keep) < ng.node_count:
            if f"{ng.name}-{index}" not in mine:
                keep.append(f"{ng.name}-{index}")
            index += 1
        planned += [(name, ng.name, ng.role) for name in sorted(keep, key=_index)]
    return planned


def group_of(node: str) -> str:
    return node.rsplit("-", 1)[0]


def _index(node: str) -> int:
    suffix = node.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1


def assign_slots(current: dict[str, int], names: Sequence[str]) -> dict[str, int]:
    """Keep every recorded slot (a node's address never changes while it exists); give new
    names the lowest free ones. Slots of nodes no longer wanted stay until they are removed."""
    slots = dict(current)
    for name in names:
        if name not in slots:
            used = set(slots.values())
            slots[name] = next(slot for slot in range(1, len(used) + 2) if slot not in used)
    return slots


def hostname(cluster_name: str, node: str) -> str:
    text = re.sub(r"[^a-z0-9-]+", "-", f"{cluster_name}-{node}".lower()).strip("-")
    return text[:63].rstrip("-") or node


def _status(node: Node, seen: swarm.SwarmNode | None) -> NodeStatus:
    if seen is None:
        return NodeStatus(name=node.name, nodegroup=node.nodegroup, role=node.role,
                          address=node.address, healthy=False, reason="not in the swarm")
    # NOTE: a tainted node is healthy while paused or drained, as its taints ask.
    healthy = seen.state == "ready" and seen.availability == node.profile.availability
    reason = "" if healthy else f"{seen.state} {seen.availability} {seen.message}".strip()
    return NodeStatus(name=node.name, nodegroup=node.nodegroup, role=node.role,
                      address=node.address, healthy=healthy, reason=reason)


def _remove_cgroups(short: str) -> None:
    limits.remove(f"/magna/{short}")
