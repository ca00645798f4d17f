"""The local Swarm-mode driver (entry point ``local-swarm``): every node is a network namespace
with its own hostname and its own dockerd, on a per-cluster bridge of this host.

``apply`` composes the pieces in a fixed order, each idempotent, so a pass converges from any
partial state a crash left (a namespace without an engine, an engine outside the swarm, a stale
pid file)::

    tools present -> subnet allocated (network.json) -> node slots (slots.json) -> bridge + iptables
    -> client certificate -> registry (registry_enabled) -> per node: namespace + veth, server
    certificate, daemon.json, cgroup limits, engine -> engines answer -> outdated engines restart
    a batch at a time -> swarm init on master 0 -> other nodes join (through a manager with
    quorum) -> labels and availability -> busybox image on every node, pushed once to the
    registry -> unwanted nodes leave -> load balancer -> nodes Ready -> Observed

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

Every swarm operation goes through a manager that answers with a quorum (the leader first), so
the cluster is managed while master 0 is down. With ``master_lb_enabled`` an HAProxy on the host
fronts the managers (``balancer.py``); managers leave one at a time, demoted first, in
``quorum.py`` order. ``heal`` (the ``Healing`` ability) restarts dead engines and, with
``auto_healing_enabled``, replaces workers that stay unhealthy (``healing.py``).

Each node's flavor is a cgroup limit (``limits.py``), its nodegroup's labels and taints become
swarm labels and availability (``profile.py``), and engines whose configuration or certificates
changed restart a batch at a time (``rollout.py``).

NOTE: additional nodegroups get nodes like any other group.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
    Healing,
    NodeStatus,
    Observed,
)
from magna.drivers.catalog import Catalog
from magna.drivers.local_swarm import (
    balancer,
    engine,
    healing,
    host,
    image,
    leaving,
    limits,
    network,
    pki,
    profile,
    quorum,
    registry,
    rollout,
    swarm,
)
from magna.drivers.local_swarm.catalog import IMAGES, LocalCatalog
from magna.drivers.local_swarm.containers import LocalContainers

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


class LocalSwarmDriver(Driver, GarbageCollecting, Healing, LocalContainers):
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
        if masters.node_count % 2 == 0:
            raise PermanentError(f"{masters.node_count} masters cannot keep a raft quorum "
                                 f"better than {masters.node_count - 1}; use an odd number.")
        if balanced(spec):
            balancer.binary()  # a missing HAProxy fails before anything is built
        self.check_size(sum(ng.node_count for ng in spec.nodegroups if ng.present))

    def check_size(self, nodes: int) -> None:
        network.check_room(nodes, self.opts.subnet_prefix)

    # -- the contract ---------------------------------------------------------------------

    def apply(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        host.require_tools(self.opts.dockerd)
        try:
            nodes = self._build(spec, pki_)
            self._start_engines(spec, nodes)
            self._form_swarm(spec, nodes)
            self._apply_profiles(spec, nodes)
            self._provide_images(spec, nodes)
            self._retire_strays(spec, nodes)
            self._balance(spec, nodes)
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
        wanted = planned_names(spec, list(slots), healing.retired(self._cluster_dir(spec.uuid)))
        if assign:
            slots = self._write_slots(spec.uuid, [name for name, _, _ in wanted], drop=())
        return [self._node(spec, allocation, name, group, role, slots[name])
                for name, group, role in wanted if name in slots]

    def _strays(self, spec: ClusterSpec, allocation: network.Allocation) -> list[Node]:
        """Nodes that exist (have a slot) but the spec no longer asks for."""
        slots = self._read_slots(spec.uuid)
        wanted = {name for name, _, _ in planned_names(
            spec, list(slots), healing.retired(self._cluster_dir(spec.uuid)))}
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
            dockerd=self.opts.dockerd,
            insecure_registries=registry.insecure_registries(
                str(allocation.gateway) if spec.registry_enabled else None,
                spec.insecure_registry),
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
        if spec.registry_enabled:
            registry.ensure(self._registry(spec.uuid, allocation))
        for node in nodes:
            node.net.apply()
            extra = (str(allocation.gateway),) if node.role == "master" and balanced(spec) else ()
            pki.ensure(pki.server_files(node.engine.node_dir),
                       pki.server_request(node.engine.hostname, node.address, *extra), pki_)
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

    def _manager(self, spec: ClusterSpec, nodes: Sequence[Node], timeout: float | None = None
                 ) -> tuple[docker.DockerClient, dict[str, swarm.SwarmNode]] | None:
        """A client for a reachable manager (the raft leader if it answers) and its view."""
        masters = [node.address for node in nodes if node.role == "master"]
        return swarm.find_manager(lambda address: swarm.connect(
            address, self._client_files(spec), timeout or self.opts.swarm_timeout), masters)

    def _client_files(self, spec: ClusterSpec) -> pki.CertFiles | None:
        return None if spec.tls_disabled else pki.client_files(self._cluster_dir(spec.uuid))

    def _form_swarm(self, spec: ClusterSpec, nodes: list[Node]) -> None:
        found = self._manager(spec, nodes)
        if found is None:
            self._init_swarm(spec, nodes)
            found = self._manager(spec, nodes)
            if found is None:
                raise TemporaryError("The new swarm's manager does not answer yet.", delay=1.0)
        leader, known = found
        with contextlib.closing(leader):
            address = next((n.address for n in known.values() if n.leader), "")
            tokens = swarm.tokens(leader)
            for node in nodes:
                token = tokens["Manager" if node.role == "master" else "Worker"]
                self._join(spec, node, leader, address or nodes[0].address, token, known)

    def _init_swarm(self, spec: ClusterSpec, nodes: list[Node]) -> None:
        """No manager answers with a quorum: master 0 starts the swarm, but only if no master
        is in one (otherwise the swarm lost its quorum, and a new one would split it)."""
        masters = [node for node in nodes if node.role == "master"]
        if not masters:
            raise TemporaryError("No master's engine answers; the swarm waits for one.",
                                 delay=2.0)
        for node in masters:
            with contextlib.closing(self._client(spec, node)) as client:
                if swarm.membership(client).state != "inactive":
                    raise TemporaryError(f"No manager of the swarm answers with a quorum "
                                         f"(node {node.name} is in the swarm); waiting for "
                                         f"its managers.", delay=2.0)
        with contextlib.closing(self._client(spec, masters[0])) as client:
            swarm.init(client, masters[0].address)

    def _join(self, spec: ClusterSpec, node: Node, leader: docker.DockerClient,
              leader_address: str, token: str, known: dict[str, swarm.SwarmNode]) -> None:
        with contextlib.closing(self._client(spec, node)) as client:
            member = swarm.membership(client)
            if member.state == "active" and member.node_id in known:
                return
            if member.state == "pending":
                raise swarm.join_failed(node.name, leader_address, "still trying to reach it")
            if member.state != "inactive":
                swarm.leave(client)  # in a swarm the leader does not know, or in error
            # NOTE: an entry with this hostname belongs to the node's former self (its data
            # was lost); it would stay "Down" in `docker node ls` forever.
            swarm.forget(leader, node.engine.hostname)
            try:
                swarm.join(client, address=node.address, manager_address=leader_address,
                           token=token)
            except (docker.errors.DockerException, requests.RequestException) as exc:
                raise swarm.join_failed(node.name, leader_address, str(exc)) from None

    def _apply_profiles(self, spec: ClusterSpec, nodes: list[Node]) -> None:
        """Labels and availability of every node (idempotent: only differences are written)."""
        found = self._manager(spec, nodes)
        if found is None:
            raise TemporaryError("No manager answers; node labels wait.", delay=2.0)
        client, _ = found
        with contextlib.closing(client):
            profile.apply(client, {node.engine.hostname: node.profile for node in nodes})

    def _retire_strays(self, spec: ClusterSpec, nodes: list[Node]) -> None:
        """Scale-down (and auto-healing's replacements): nodes the spec no longer wants go one
        at a time in ``quorum.next_to_leave`` order: a worker is drained, a manager demoted
        first (never while that would lose the quorum). Then each leaves the swarm, is
        forgotten by the manager, and its engine, namespace and files go; its slot is dropped
        last, so a crash anywhere in between repeats the (idempotent) removal."""
        strays = {node.engine.hostname: node
                  for node in self._strays(spec, nodes[0].net.allocation)}
        while strays:
            # NOTE: a manager that stays does the work, so a leaving leader is not asked to
            # demote itself; only when none answers, a leaving one does.
            found = self._manager(spec, nodes) or self._manager(spec, [*nodes, *strays.values()])
            if found is None:
                raise TemporaryError("No manager answers; the scale-down waits.", delay=2.0)
            client, view = found
            with contextlib.closing(client):
                hostname = quorum.next_to_leave(view, strays)
                if hostname is None:
                    raise TemporaryError(f"Demoting a manager now would lose the swarm's "
                                         f"quorum; waiting ({', '.join(sorted(strays))}).",
                                         delay=2.0)
                node = strays.pop(hostname)
                leaving.prepare(client, hostname, self.opts.swarm_timeout)
                self._remove_node(spec, client, node)

    def _remove_node(self, spec: ClusterSpec, manager: docker.DockerClient, node: Node) -> None:
        with contextlib.suppress(docker.errors.DockerException, requests.RequestException), \
                contextlib.closing(self._client(spec, node, OBSERVE_TIMEOUT)) as client:
            swarm.leave(client)
        engine.stop(node.engine, self.opts.stop_timeout)
        engine.clear_remains(node.engine)
        swarm.forget(manager, node.engine.hostname)
        node.net.delete()
        limits.remove(node.engine.cgroup_parent)
        for path in (node.engine.node_dir, node.engine.run_dir):
            engine.unmount_under(path)
            shutil.rmtree(path, ignore_errors=True)
        self._write_slots(spec.uuid, (), drop=(node.name,))
        healing.forget(self._cluster_dir(spec.uuid), node.name)

    def _balancer(self, spec: ClusterSpec, nodes: Sequence[Node]) -> balancer.Balancer:
        gateway = str(nodes[0].net.allocation.gateway) if nodes else ""
        return balancer.Balancer(
            name=f"magna-{network.short_id(spec.uuid)}", listen=gateway,
            backends=[node.address for node in nodes if node.role == "master"],
            state_dir=self._cluster_dir(spec.uuid), run_dir=self._run_dir(spec.uuid))

    def _balance(self, spec: ClusterSpec, nodes: list[Node]) -> None:
        lb = self._balancer(spec, nodes)
        if balanced(spec):
            balancer.ensure(lb)
        else:
            balancer.stop(lb)

    # -- healing ----------------------------------------------------------------------------

    def heal(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        """Restart dead engines; with auto-healing, replace workers that stay unhealthy."""
        host.require_tools()
        try:
            return self._heal(spec, pki_)
        except host.CommandFailed as exc:
            raise TemporaryError(f"Repairing the cluster failed: {exc}", delay=5.0) from None
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise TemporaryError(f"The cluster's engines are not answering yet: {exc}",
                                 delay=2.0) from None

    def _heal(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        cluster_dir = self._cluster_dir(spec.uuid)
        nodes = self._build(spec, pki_)
        seen = {status.name: status for status in self._look(spec, nodes).nodes}
        stuck = [node.name for node in nodes if node.name in seen and healing.stuck(
            engine.ping(node.engine), seen[node.name].reason,
            engine.seconds_since_start(node.engine))]
        restarted, failed = healing.restart_dead(
            [(node.name, node.engine) for node in nodes], stop_timeout=self.opts.stop_timeout,
            wait=self.opts.engine_start_timeout, force=stuck)
        notes = [f"Healing: restarted the engine of node {name}, which the swarm still listed "
                 f"down." if name in stuck else f"Healing: restarted the dead engine of node "
                 f"{name}." for name in restarted]
        notes += [f"Healing: the engine of node {name} does not stay up: "
                  f"{engine.log_tail(node.engine, 2)}" for node in nodes for name in failed
                  if node.name == name]
        # NOTE: while a new raft leader is being elected nobody can rejoin a node; the next
        # observation heals again, and what was restarted is reported now.
        with contextlib.suppress(TemporaryError, docker.errors.DockerException,
                                 requests.RequestException):
            self._form_swarm(spec, [node for node in nodes if node.name not in failed])
        if balanced(spec) and balancer.ensure(self._balancer(spec, nodes)):
            notes.append("Healing: restarted the master load balancer.")
        observed = self._observed(spec, nodes, wait=READY_WAIT if restarted else 0.0,
                                  notes=False)
        sick = [status for status in observed.nodes
                if not status.healthy and status.role != "master"]
        if healing.auto_healing(spec) and not restarted and any(
                status.name not in failed for status in sick):
            # NOTE: a worker may look unhealthy for a moment (a new raft leader lists nodes
            # "unknown" until they report in); only one that stays so is replaced.
            observed = self._observed(spec, nodes, wait=READY_WAIT, notes=False)
            sick = [status for status in observed.nodes
                    if not status.healthy and status.role != "master"]
        if sick and healing.auto_healing(spec):
            healing.retire(cluster_dir, [status.name for status in sick])
            notes += [f"Auto-healing: replacing worker {status.name} ({status.reason})."
                      for status in sick]
        if healing.retired(cluster_dir):
            observed = self._replace(spec, pki_)
            notes += [f"Auto-healing: node {status.name} joined at {status.address}."
                      for status in observed.nodes if status.name not in
                      {node.name for node in nodes}]
        return dataclasses.replace(observed, notes=[*observed.notes, *notes])

    def _replace(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        """Apply until the retired nodes' replacements joined and the old ones are gone."""
        deadline = time.monotonic() + 2 * self.opts.engine_start_timeout
        while True:
            try:
                observed = self.apply(spec, pki_)
                if observed.converged or time.monotonic() > deadline:
                    return observed
            except TemporaryError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(1.0)

    def _registry(self, cluster_uuid: str, allocation: network.Allocation) -> registry.Registry:
        return registry.Registry(
            state_dir=os.path.join(self._cluster_dir(cluster_uuid), "registry"),
            run_dir=os.path.join(self._run_dir(cluster_uuid), "registry"),
            short=network.short_id(cluster_uuid), allocation=allocation)

    def _provide_images(self, spec: ClusterSpec, nodes: list[Node]) -> None:
        """Every node has magna/busybox:latest; master 0 pushes it to the cluster's registry."""
        for node in nodes:
            with contextlib.closing(self._client(spec, node)) as client:
                image.ensure(client.api)
        if spec.registry_enabled:
            reg = self._registry(spec.uuid, nodes[0].net.allocation)
            with contextlib.closing(self._client(spec, nodes[0])) as client:
                if not registry.publish(reg, client.api, wait=READY_WAIT):
                    raise TemporaryError("Waiting for the cluster's registry to answer.",
                                         delay=2.0)

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
            return self._with_notes(spec, observed, nodes[0].net.allocation)
        return observed

    def _look(self, spec: ClusterSpec, nodes: list[Node]) -> Observed:
        """Each node as its engine (a ping on its socket) and a reachable manager see it."""
        version = ""
        view: dict[str, swarm.SwarmNode] = {}
        found = self._manager(spec, nodes, OBSERVE_TIMEOUT)
        if found is not None:
            client, view = found
            with contextlib.closing(client), contextlib.suppress(
                    docker.errors.DockerException, requests.RequestException):
                version = swarm.versions(client)
        statuses = [_status(node, engine.ping(node.engine), view) for node in nodes]
        # NOTE: a worker auto-healing is replacing counts until it is gone, so a replacement
        # interrupted by a crash is noticed (and finished) by the next health observation.
        retired = healing.retired(self._cluster_dir(spec.uuid))
        statuses += [dataclasses.replace(_status(node, False, view), healthy=False,
                                         reason="being replaced")
                     for node in self._strays(spec, nodes[0].net.allocation)
                     if node.name in retired]
        # NOTE: no API address while the load balancer is down: the health says so and
        # healing starts it again.
        api = None if balanced(spec) and balancer.pid_of(self._balancer(spec, nodes)) is None \
            else f"tcp://{self._api_host(spec, nodes)}:{engine.PORT}"
        return Observed(
            converged=not self._strays(spec, nodes[0].net.allocation)
            and len(nodes) == sum(ng.node_count for ng in spec.nodegroups if ng.present)
            and all(status.healthy for status in statuses) and api is not None,
            api_address=api, stack_id=spec.uuid,
            coe_version=version or None, container_version=version or None, nodes=statuses)

    def _api_host(self, spec: ClusterSpec, nodes: list[Node]) -> str:
        if balanced(spec):
            return str(nodes[0].net.allocation.gateway)
        return next((node.address for node in nodes if node.role == "master"), nodes[0].address)

    def _with_notes(self, spec: ClusterSpec, observed: Observed,
                    allocation: network.Allocation) -> Observed:
        marker = os.path.join(self._cluster_dir(spec.uuid), NOTED)
        if os.path.exists(marker):
            return observed
        notes = [] if host.has_ipvs() else [host.IPVS_NOTE]
        notes.append(image.note(self._registry(spec.uuid, allocation).image
                                if spec.registry_enabled else None))
        with open(marker, "w") as handle:
            handle.write("notes\n")
        return Observed(converged=observed.converged, api_address=observed.api_address,
                        stack_id=observed.stack_id, coe_version=observed.coe_version,
                        container_version=observed.container_version, nodes=observed.nodes,
                        notes=notes)

    # -- removal ----------------------------------------------------------------------------

    def _remove(self, cluster_uuid: str) -> None:
        cluster_dir = self._cluster_dir(cluster_uuid)
        run_dir = self._run_dir(cluster_uuid)
        balancer.stop(balancer.Balancer(name="", listen="", backends=(), state_dir=cluster_dir,
                                        run_dir=run_dir))
        self._stop_processes(cluster_uuid, cluster_dir, run_dir)  # the registry's too
        registry.unguard(network.short_id(cluster_uuid))
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
        """SIGKILL everything of the cluster: the processes naming its directories (engines,
        containerd, registry, load balancer), those inside its namespaces and those in its
        cgroups (containers, whose shims may already be gone).

        NOTE: no graceful shutdown: the nodes are being destroyed with their data, and a
        dockerd given SIGTERM spends up to its shutdown timeout stopping containers and writes
        into its data root while it does (recreating a state dir that was just removed)."""
        cgroup = f"/magna/{network.short_id(cluster_uuid)}"
        deadline = time.monotonic() + max(5.0, self.opts.stop_timeout)
        while True:
            pids = set(engine.processes_using(cluster_dir, run_dir)) | limits.pids_in(cgroup)
            for netns in network.namespaces_of(cluster_uuid):
                pids.update(int(p) for p in host.run("ip", "netns", "pids", netns).split())
            pids = {pid for pid in pids if pid != os.getpid() and engine.alive(pid)}
            if not pids or time.monotonic() > deadline:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)


_ANY = ipaddress.IPv4Network("0.0.0.0/32")


def planned_names(spec: ClusterSpec, existing: Sequence[str], retired: Sequence[str] = ()
                  ) -> list[tuple[str, str, str]]:
    """(node name, nodegroup, role) for every node the spec asks for, masters first.

    Existing nodes are kept, except those named in ``nodes_to_remove`` or ``retired`` (being
    replaced by auto-healing) and, beyond the wanted count, the newest; missing ones get the
    lowest unused ``<nodegroup>-<i>``.
    """
    groups = sorted((ng for ng in spec.nodegroups if ng.present),
                    key=lambda ng: (ng.role != "master", ng.name))
    planned = []
    for ng in groups:
        mine = sorted((name for name in existing if group_of(name) == ng.name), key=_index)
        keep = [name for name in mine
                if name not in ng.nodes_to_remove and name not in retired][:ng.node_count]
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


def balanced(spec: ClusterSpec) -> bool:
    """The cluster's managers sit behind a load balancer on the host (``balancer.py``).

    NOTE: with one master too, so the API address stays the same when masters are scaled."""
    return spec.master_lb_enabled


def _status(node: Node, answers: bool, view: dict[str, swarm.SwarmNode]) -> NodeStatus:
    """Healthy when the engine answers, a manager lists the node Ready and Active and, for a
    master, as a reachable manager; otherwise the reason says which of these failed."""
    entries = [seen for seen in view.values() if seen.hostname == node.engine.hostname]
    seen = next((entry for entry in entries if entry.state == "ready"),
                entries[0] if entries else None)
    problems = [] if answers else ["engine not answering"]
    if not view:
        problems.append("no manager answers")
    elif seen is None:
        problems.append("not in the swarm")
    else:
        # NOTE: a tainted node is healthy while paused or drained, as its taints ask.
        if seen.state != "ready" or seen.availability != node.profile.availability:
            problems.append(f"{seen.state} {seen.availability} {seen.message}".strip())
        if node.role == "master" and seen.reachability != "reachable":
            problems.append(f"manager {seen.reachability or 'not a manager'}")
    return NodeStatus(name=node.name, nodegroup=node.nodegroup, role=node.role,
                      address=node.address, healthy=not problems, reason="; ".join(problems))


def _remove_cgroups(short: str) -> None:
    limits.remove(f"/magna/{short}")
