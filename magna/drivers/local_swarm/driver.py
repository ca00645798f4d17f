"""The local Swarm-mode driver (entry point ``local-swarm``): every node is a network namespace
with its own hostname and its own dockerd, on a per-cluster bridge of this host.

The nodes come from the node layer (``magna/drivers/local_nodes``), which knows no orchestrator:
subnet, bridge, namespaces, certificates, cgroup limits, engines, the per-cluster registry, the
HAProxy in front of the masters, teardown and garbage collection. This package adds what makes
those nodes a swarm, and this class only composes the two.

``apply`` runs the pieces in a fixed order, each idempotent, so a pass converges from any
partial state a crash left (a namespace without an engine, an engine outside the swarm, a stale
pid file)::

    tools present -> [nodes] subnet allocated (network.json) -> node slots (slots.json)
    -> engine guard -> bridge + iptables + fence -> client certificate -> registry
    (registry_enabled) -> per master: namespace + veth, server certificate, the node's root and
    daemon.json -> the masters' cgroup limits and sealed engines answer
    -> [swarm] outdated engines restart a batch at a time (``rollout.py``) -> swarm init on
    master 0 and the other masters join, while the workers are built the same way and their
    engines start -> outdated workers restart -> workers join through a manager with quorum
    (``forming.py``) -> labels and availability (``profile.py``), and beside those the
    busybox image on every node, pushed once to the registry -> unwanted nodes leave
    (``forming.retire``, ``quorum.py``) -> load balancer -> nodes Ready (``health.py``) ->
    Observed, with the notes told on the first convergence only

State on disk (``local_nodes/cluster.py`` has the details)::

    <state_dir>/local-swarm/<cluster uuid>/      created first, removed last (the anchor)
    <run_dir>/<short id>/<slot>/                 exec-root, docker.sock, docker.pid

``delete`` (and ``collect`` for clusters without a row) is the node layer's ``remove``:
processes, mounts, namespaces, veths, the bridge, its iptables rules, cgroups, the run dir and
finally the state dir. Nothing of the swarm needs undoing when every node goes.

Nodes are ``<nodegroup>-<i>`` with a slot (its IP) that never changes while the node exists.
Scaling down removes the nodes named in ``nodes_to_remove`` first, then the newest: each is
drained (a manager demoted first), its engine killed, the manager forgets it, its pieces are
deleted, and its slot is dropped last.

Every swarm operation goes through a manager that answers with a quorum (the leader first), so
the cluster is managed while master 0 is down. With ``master_lb_enabled`` an HAProxy on the host
fronts the managers; managers leave one at a time, demoted first, in ``quorum.py`` order.
``heal`` (the ``Healing`` ability, ``repair.py``) restarts dead engines and, with
``auto_healing_enabled``, replaces workers that stay unhealthy.

Each node's flavor is a cgroup limit, its nodegroup's labels and taints become swarm labels and
availability (``profile.py``), and engines whose configuration or certificates changed restart
a batch at a time (``rollout.py``).

NOTE: the swarm side reaches nodes through the node layer's ``Node`` interface (address,
hostname, role, engine answers, engine stop) wherever it can, so nodes on other machines can
replace local ones later; the rollout still restarts local engines by their unix sockets.
NOTE: additional nodegroups get nodes like any other group.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Sequence

import docker
import requests
from oslo_config import cfg

from magna.common import fanout
from magna.common.exceptions import PermanentError, TemporaryError
from magna.drivers import fencing
from magna.drivers import labels as label_rules
from magna.drivers.base import (
    ClusterPKI,
    ClusterSpec,
    Driver,
    GarbageCollecting,
    Healing,
    Observed,
    Settings,
)
from magna.drivers.local_nodes import (
    balancer,
    fence,
    host,
    image,
    network,
    private_networks,
    registry,
)
from magna.drivers.local_nodes.catalog import LocalCatalog
from magna.drivers.local_nodes.cluster import LocalNodes, NodeSettings
from magna.drivers.local_nodes.hosting import OnLocalNodes, check_network_driver
from magna.drivers.local_nodes.node import LocalNode
from magna.drivers.local_swarm import forming, profile, rollout
from magna.drivers.local_swarm import labels as swarm_labels
from magna.drivers.local_swarm.containers import LocalContainers
from magna.drivers.local_swarm.health import Health
from magna.drivers.local_swarm.repair import Repair
from magna.metrics.series import timed_step

ROOT = "local-swarm"
KIND = "local Swarm"
# NOTE: swarm-mode's own networking: the engines' overlay networks between nodes.
NETWORK_DRIVER = "docker"
GROUP = "local_swarm"
READY_WAIT = 20.0
# Nodes given the busybox image at once (``fanout``): each import is the node engine's work.
IMAGE_WIDTH = 8
# NOTE: more workers than this per master start beside the masters' engines (the workers are
# then the longer path: 1+9 3.9 s instead of 4.4); fewer start once the masters' engines answer
# (3+2 took 3.9 s instead of 3.6 with its workers early: they slowed the masters' engines,
# whose swarm init and serial manager joins are that create's longer path). bench/notes.md.
EARLY_WORKERS_PER_MASTER = 2
_UNREACHABLE = (docker.errors.DockerException, requests.RequestException)


def node_settings(state_dir: str, opts: cfg.ConfigOpts.GroupAttr,
                  private: Sequence[str] = ()) -> NodeSettings:
    """The node layer's settings from the ``[local_swarm]`` group (``private``: the entries of
    ``[local_nodes] private_networks``)."""
    pool = network.SubnetPool(cidr=opts.subnet_pool, prefix=opts.subnet_prefix, kind=KIND,
                              group=GROUP)
    return NodeSettings(
        kind=KIND, root=os.path.join(state_dir, ROOT), run_root=opts.run_dir, pool=pool,
        networks=private_networks.configured(private, pool),
        dockerd=opts.dockerd, stop_timeout=opts.stop_timeout,
        engine_start_timeout=opts.engine_start_timeout,
        host_services=fence.parse_host_services(opts.host_services),
        keypair_dir=os.path.join(state_dir, "keypairs"))


class LocalSwarmDriver(OnLocalNodes, Driver, GarbageCollecting, Healing, LocalContainers):
    name = "local-swarm"
    coe = "swarm-mode"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.opts = conf.local_swarm
        self.nodes = LocalNodes(node_settings(conf.state_dir, self.opts,
                                              conf.local_nodes.private_networks))
        self._catalog = LocalCatalog(conf.state_dir, [
            net.entry() for net in self.nodes.settings.networks])
        self.root = self.nodes.settings.root

    def check_coe_settings(self, settings: Settings) -> None:
        check_network_driver(settings.network_driver, NETWORK_DRIVER, kind=KIND)
        label_rules.check(swarm_labels.RULES, settings.labels, kind=KIND)

    def validate(self, spec: ClusterSpec) -> None:
        self.check_masters(spec, kind=KIND, coe="swarm-mode", quorum="a raft")
        if balancer.balanced(spec):
            balancer.binary()  # a missing HAProxy fails before anything is built
        self.check_size(sum(ng.node_count for ng in spec.nodegroups if ng.present))

    # -- the contract ---------------------------------------------------------------------

    def apply(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        self.nodes.require_tools()
        try:
            with self._step("build"):
                members = self.nodes.prepare(spec, pki_)
                self.nodes.build_nodes(spec, pki_, _masters(members))
            fencing.checkpoint()
            health = self._converge(spec, members, pki_)
            with self._step("settle"):
                return health.with_first_notes(health.settle(members, READY_WAIT))
        except host.CommandFailed as exc:
            raise PermanentError(f"Building the cluster on this host failed: {exc}") from None
        except _UNREACHABLE as exc:
            raise TemporaryError(f"The cluster's engines are not answering yet: {exc}",
                                 delay=2.0) from None

    def observe(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        return self._health(spec).settle(self._members(spec), 0.0)

    def heal(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        """Restart dead engines; with auto-healing, replace workers that stay unhealthy."""
        # NOTE: checks the default engine binary, not [local_swarm] dockerd (as it always has).
        host.require_tools(KIND)
        try:
            members = self.nodes.build(spec, pki_)
            repair = Repair(health=self._health(spec), ready_wait=READY_WAIT,
                            apply=functools.partial(self.apply, spec, pki_))
            return repair.run(members)
        except host.CommandFailed as exc:
            raise TemporaryError(f"Repairing the cluster failed: {exc}", delay=5.0) from None
        except _UNREACHABLE as exc:
            raise TemporaryError(f"The cluster's engines are not answering yet: {exc}",
                                 delay=2.0) from None

    # -- the swarm on the nodes -------------------------------------------------------------

    def _access(self, spec: ClusterSpec) -> forming.Access:
        return forming.Access(self.nodes.client_files(spec), self.opts.swarm_timeout)

    def _health(self, spec: ClusterSpec) -> Health:
        return Health(spec=spec, nodes=self.nodes, access=self._access(spec))

    def _converge(self, spec: ClusterSpec, members: list[LocalNode],
                  pki_: ClusterPKI) -> Health:
        access = self._access(spec)
        profiles = profile.by_node(spec, members)
        # NOTE: a checkpoint between steps (``drivers/fencing.py``): a conductor whose heartbeat
        # is overdue stops here, before the next step changes the cluster.
        masters = _masters(members)
        workers = [node for node in members if node.role != "master"]
        stale_workers: list[tuple[LocalNode, str]] = []

        def workers_up() -> None:
            self.nodes.build_nodes(spec, pki_, workers)
            stale_workers.extend(self.nodes.start_engines(workers))

        # NOTE: the steps overlap where neither needs the other: the workers are built and
        # their engines start while the managers make the swarm (a swarm init is 0.2-0.8 s of
        # the leader's own work), and every node imports its image while the workers join and
        # get their labels (bench/notes.md has what each overlap saved). Many workers start
        # beside the masters' engines too: then they, not the masters, are the longer path.
        # A rollout of outdated workers waits for this thread: its checkpoints only stop the
        # conductor's own thread. The ``swarm`` step begins inside the overlap and ends after
        # the joins, hence the ExitStacks.
        early = len(workers) > EARLY_WORKERS_PER_MASTER * len(masters)
        with contextlib.ExitStack() as swarm_step:
            with contextlib.ExitStack() as beside:
                if early:
                    beside.enter_context(fanout.meanwhile(workers_up))
                with self._step("engines"):
                    self._roll(spec, self.nodes.start_engines(masters), members, profiles)
                fencing.checkpoint()
                swarm_step.enter_context(self._step("swarm"))
                if not early:
                    beside.enter_context(fanout.meanwhile(workers_up))
                forming.form(access, masters)
            fencing.checkpoint()
            self._roll(spec, stale_workers, members, profiles)
            images = functools.partial(self._provide_images, spec, members, access)
            with fanout.meanwhile(images):
                forming.form(access, members)
                fencing.checkpoint()
                forming.apply_profiles(access, members, profiles)
        fencing.checkpoint()
        with self._step("retire"):
            forming.retire(access, members, self.nodes.strays(spec, members[0].net.allocation),
                           drain_timeout=self.opts.swarm_timeout,
                           remove=functools.partial(self.nodes.remove_node, spec))
        with self._step("balancer"):
            lb = self.nodes.balancer(spec, members)
            if balancer.balanced(spec):
                balancer.ensure(lb)
            else:
                balancer.stop(lb)
        return self._health(spec)

    def _step(self, step: str) -> contextlib.AbstractContextManager[object]:
        """Time a step of ``apply`` (``magna_driver_step_duration_seconds``, docs/metrics.md)."""
        return timed_step(self.name, step)

    def _roll(self, spec: ClusterSpec, stale: list[tuple[LocalNode, str]],
              members: list[LocalNode], profiles: dict[str, profile.NodeProfile]) -> None:
        """Engines that run with an outdated configuration or certificates (``stale``, from
        the node layer's start, with the hash each should have) restart a batch at a time
        (``rollout.py``, through the managers among all ``members``)."""
        if stale:
            managers = [rollout.member(node, "", profiles[node.name].availability)
                        for node in members if node.role == "master"]
            rollout.Rollout(stop_timeout=self.opts.stop_timeout,
                            ready_timeout=self.opts.engine_start_timeout + READY_WAIT,
                            call_timeout=self.opts.swarm_timeout,
                            ).run([rollout.member(node, want, profiles[node.name].availability)
                                   for node, want in stale], managers, spec.max_batch_size)

    def _provide_images(self, spec: ClusterSpec, members: list[LocalNode],
                        access: forming.Access) -> None:
        """Every node has magna/busybox:latest; master 0 pushes it to the cluster's registry."""
        def provide(node: LocalNode) -> None:
            with contextlib.closing(access.client(node)) as client:
                image.ensure(client.api)

        with self._step("images"):
            fanout.each(members, provide, width=IMAGE_WIDTH)
        if spec.registry_enabled:
            reg = self.nodes.registry(spec.uuid, members[0].net.allocation)
            with contextlib.closing(access.client(members[0])) as client:
                if not registry.publish(reg, client.api, wait=READY_WAIT):
                    raise TemporaryError("Waiting for the cluster's registry to answer.",
                                         delay=2.0)


def _masters(members: Sequence[LocalNode]) -> list[LocalNode]:
    return [node for node in members if node.role == "master"]
