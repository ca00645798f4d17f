"""A cluster's nodes on this host, for any COE: ``LocalNodes`` is what a driver holds.

It owns the layout on disk and the order in which a cluster's nodes come to exist::

    subnet allocated (network.json; from a fixed network's CIDR when the spec names one)
    -> node slots (slots.json) -> room in the kernel's neighbour table (``neighbours.py``)
    -> bridge + iptables
    -> fence (``fence.py``) -> client certificate -> registry (registry_enabled) -> per node:
    namespace + veth, server certificate, daemon.json                       (``build``)
    -> cgroup limits, engines started and answering                  (``start_engines``)

State on disk (``root`` is ``<state_dir>/<driver's directory>``)::

    <root>/<cluster uuid>/          created first, removed last (the anchor)
        network.json  slots.json  retired.json  notes-sent  client/{ca,cert,key}.pem
        registry/  balancer/  <node>/ engine.log engine.pid ca.pem server-{cert,key}.pem
                                      root/ (the node's own /: etc/, var/lib/docker/, ...)
    <run_root>/<short id>/<slot>/   the node's /run: docker.sock, docker/ (owner.json beside)
    <run_root>/seal/<netns>/        the engine guard's socket for the node

Every node's engine runs sealed (``engine.py``): its own root, its own namespaces, container
root remapped to the cluster's id range (``rootfs.id_base`` of the cluster's subnet).

The orchestrator on top (membership, node labels, rolling restarts, health as the orchestrator
sees it) is the driver's: it receives ``LocalNode`` objects and mostly uses them through the
``Node`` interface of ``node.py``. The per-cluster registry and the HAProxy in front of the
masters are here because they are host processes on the cluster's bridge that know nothing of
the orchestrator: the registry stores images for any engine, the proxy forwards TCP to the
masters' engine port.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from magna.common import fanout
from magna.drivers.base import ClusterPKI, ClusterSpec
from magna.drivers.engine_guard import service as guard
from magna.drivers.local_nodes import (
    balancer,
    engine,
    engines,
    fence,
    healing,
    host,
    limits,
    neighbours,
    network,
    network_settings,
    pki,
    planning,
    private_networks,
    registry,
    rootfs,
    ssh,
    storage,
    teardown,
)
from magna.drivers.local_nodes.node import LocalNode
from magna.drivers.local_nodes.notices import FirstNotes

# Nodes built side by side (``fanout``): their steps mostly wait on ``ip`` and the file system.
BUILD_WIDTH = 8


@dataclass(frozen=True)
class EngineProfile:
    """What an orchestrator needs of every engine of a cluster beyond the node layer's
    defaults (``engine.EngineSpec`` has the details)."""

    tcp: bool = True  # the engine's API on <node>:2375 (TLS) as well as its unix socket
    options: tuple[tuple[str, str], ...] = ()  # daemon.json settings (JSON values)
    seal: tuple[str, ...] = ()  # more ``seal.sh`` items
    # node paths beside the data root that live on the node's volume (docker_volume_size)
    on_volume: tuple[str, ...] = ()


def default_profile(spec: ClusterSpec) -> EngineProfile:
    return EngineProfile()


@dataclass(frozen=True)
class NodeSettings:
    """What the node layer takes from its driver's configuration group."""

    kind: str  # how messages name the driver and its clusters, e.g. "local Kubernetes"
    root: str  # <state_dir>/<the driver's directory>
    run_root: str  # [group] run_dir
    pool: network.SubnetPool
    dockerd: str = "dockerd"
    stop_timeout: float = 20.0
    engine_start_timeout: float = 60.0
    # (address, port) of host services a template may name as DNS server or proxy (fence.py)
    host_services: frozenset[tuple[str, int]] = frozenset()
    engine_profile: Callable[[ClusterSpec], EngineProfile] = default_profile
    guarded: bool = True  # the driver's engines consult the engine guard (engine_guard)
    # the port of the masters' API, which the master load balancer forwards and nodes may
    # reach on the gateway (the engines' own port unless the orchestrator serves another)
    api_port: int = engine.PORT
    # where the catalog keeps keypairs' public keys (``<state_dir>/keypairs``): a cluster with
    # a keypair takes SSH logins on its nodes (``ssh.py``)
    keypair_dir: str = ""
    # the catalog's private networks ([local_nodes] private_networks), for fixed_network
    networks: tuple[private_networks.PrivateNetwork, ...] = ()


class LocalNodes:
    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings

    # -- layout -----------------------------------------------------------------------------

    def cluster_dir(self, cluster_uuid: str) -> str:
        return os.path.join(self.settings.root, cluster_uuid)

    def run_dir(self, cluster_uuid: str) -> str:
        return os.path.join(self.settings.run_root, network.short_id(cluster_uuid))

    @property
    def authz_root(self) -> str | None:
        """The engine guard's directory on this host (a socket directory per node); None for
        a driver whose engines never use the guard, so its clusters never start, stop or
        touch it (the host's other clusters rely on it)."""
        if not self.settings.guarded:
            return None
        return os.path.join(self.settings.run_root, "seal")

    def exists(self, cluster_uuid: str) -> bool:
        return os.path.exists(self.cluster_dir(cluster_uuid))

    def allocation(self, cluster_uuid: str) -> network.Allocation | None:
        return network.read_allocation(self.cluster_dir(cluster_uuid))

    def client_files(self, spec: ClusterSpec) -> pki.CertFiles | None:
        """The admin client's certificate for the nodes' engines (None: plain TCP)."""
        return None if spec.tls_disabled else pki.client_files(self.cluster_dir(spec.uuid))

    def first_notes(self, cluster_uuid: str) -> FirstNotes:
        return FirstNotes(self.cluster_dir(cluster_uuid))

    def require_tools(self) -> None:
        host.require_tools(self.settings.kind, self.settings.dockerd)

    def check_size(self, nodes: int) -> None:
        network.check_room(nodes, self.settings.pool)

    # -- planning ---------------------------------------------------------------------------

    def planned(self, spec: ClusterSpec, allocation: network.Allocation) -> list[LocalNode]:
        """The nodes the spec asks for that have a slot (all of them after ``claim``)."""
        slots = self._slots(spec.uuid).read()
        return [self._node(spec, allocation, name, group, role, slots[name])
                for name, group, role in self._wanted(spec, slots) if name in slots]

    def claim(self, spec: ClusterSpec, allocation: network.Allocation) -> list[LocalNode]:
        """Slots for every node the spec asks for, then those nodes."""
        self._slots(spec.uuid).claim(
            [name for name, _, _ in self._wanted(spec, self._slots(spec.uuid).read())])
        return self.planned(spec, allocation)

    def strays(self, spec: ClusterSpec, allocation: network.Allocation) -> list[LocalNode]:
        """Nodes that exist (have a slot) but the spec no longer asks for."""
        slots = self._slots(spec.uuid).read()
        wanted = {name for name, _, _ in self._wanted(spec, slots)}
        return [self._node(spec, allocation, name, planning.group_of(name), "", slot)
                for name, slot in sorted(slots.items()) if name not in wanted]

    def retired(self, cluster_uuid: str) -> list[str]:
        return healing.retired(self.cluster_dir(cluster_uuid))

    def retire(self, cluster_uuid: str, names: Sequence[str]) -> None:
        healing.retire(self.cluster_dir(cluster_uuid), names)

    def _wanted(self, spec: ClusterSpec, slots: dict[str, int]) -> list[tuple[str, str, str]]:
        return planning.planned_names(spec, list(slots), self.retired(spec.uuid))

    def _slots(self, cluster_uuid: str) -> planning.Slots:
        return planning.Slots(root=self.settings.root, cluster_dir=self.cluster_dir(cluster_uuid))

    def _node(self, spec: ClusterSpec, allocation: network.Allocation, name: str, group: str,
              role: str, slot: int) -> LocalNode:
        address = str(allocation.address(slot))
        netns = network.netns_name(spec.uuid, name)
        short = network.short_id(spec.uuid)
        ng = next((ng for ng in spec.nodegroups if ng.name == group), None)
        profile = self.settings.engine_profile(spec)
        id_base = rootfs.id_base(allocation.subnet)
        spec_ = engine.EngineSpec(
            node_dir=os.path.join(self.cluster_dir(spec.uuid), name),
            run_dir=os.path.join(self.run_dir(spec.uuid), str(slot)),
            hostname=planning.hostname(spec.name, name), netns=netns, address=address,
            cgroup_parent=f"{teardown.cluster_cgroup(spec.uuid)}/{name}",
            tls=not spec.tls_disabled, dockerd=self.settings.dockerd,
            insecure_registries=registry.insecure_registries(
                str(allocation.gateway) if spec.registry_enabled else None,
                spec.insecure_registry),
            dns=(spec.dns_nameserver,) if spec.dns_nameserver else (),
            environment=tuple(rootfs.exempt_cluster(planning.engine_environment(spec),
                                                    str(allocation.subnet))),
            labels=(f"magna.image={planning.image_name(spec, ng)}",),
            id_base=id_base, authz_root=self.authz_root,
            login_user=ssh.login_user(planning.os_distro(spec, ng)) if spec.keypair else "",
            tcp=profile.tcp, options=(*profile.options, *self._socket_group(spec, id_base)),
            seal=profile.seal,
            storage_driver=spec.docker_storage_driver or storage.DEFAULT_STORAGE_DRIVER,
            volume=storage.volume_of(os.path.join(self.cluster_dir(spec.uuid), name),
                                     ng.docker_volume_size if ng else None,
                                     profile.on_volume))
        net = network.NodeNetwork(netns=netns, veth=f"mgv{short}{slot}",
                                  bridge=network.bridge_name(spec.uuid),
                                  address=allocation.address(slot), allocation=allocation)
        return LocalNode(name=name, nodegroup=group, role=role, slot=slot, address=address,
                         engine=spec_, net=net,
                         flavor=planning.flavor_of(ng.flavor_id) if ng else None)

    def _socket_group(self, spec: ClusterSpec, id_base: int) -> tuple[tuple[str, str], ...]:
        """The engine's socket is the SSH sessions' root's (its group, the mapped root's)
        when every call to the engine passes the engine guard; otherwise sessions get none.
        NOTE: a gid, not a name: dockerd looks the name up as the host's root, in the
        node's /etc/group, where the mapped root has no name."""
        if spec.keypair and self.settings.guarded:
            return (("group", f'"{id_base}"'),)
        return ()

    # -- building ---------------------------------------------------------------------------

    def build(self, spec: ClusterSpec, pki_: ClusterPKI) -> list[LocalNode]:
        """Everything but the engines' processes, for every node the spec asks for."""
        nodes = self.prepare(spec, pki_)
        self.build_nodes(spec, pki_, nodes)
        return nodes

    def prepare(self, spec: ClusterSpec, pki_: ClusterPKI) -> list[LocalNode]:
        """What the cluster's nodes share (subnet, bridge, fence, the driver's certificate,
        the registry), and every node the spec asks for, claimed but not built: a driver may
        build some (``build_nodes``) and start their engines before it builds the others."""
        pool, fixed = network_settings.placement(spec, self.settings)
        allocation = network.allocate(self.settings.root, spec.uuid, pool,
                                      run_root=self.settings.run_root)
        shared = network_settings.shared_cidr(allocation, fixed)
        nodes = self.claim(spec, allocation)
        neighbours.ensure_room(run_root=self.settings.run_root,
                               short=network.short_id(spec.uuid), planned=len(nodes))
        if self.authz_root is not None:
            # NOTE: first, so a heal after the guard died finds the engines answering again
            # instead of restarting every engine of the host (they refuse all calls without it).
            guard.ensure_running(self.authz_root)
        network.Bridge(network.bridge_name(spec.uuid), allocation, shared).apply()
        fence.fence_of(spec, allocation, self.settings.host_services,
                       self.settings.api_port).apply()
        pki.ensure(pki.client_files(self.cluster_dir(spec.uuid)), pki.admin_request(), pki_)
        if spec.registry_enabled:
            registry.ensure(self.registry(spec.uuid, allocation))
        return nodes

    def build_nodes(self, spec: ClusterSpec, pki_: ClusterPKI,
                    nodes: Sequence[LocalNode]) -> None:
        """Everything but the engines' processes, for ``nodes`` (of ``prepare``), side by side."""
        fanout.each(nodes, lambda node: self._build_node(spec, pki_, node), width=BUILD_WIDTH)

    def _build_node(self, spec: ClusterSpec, pki_: ClusterPKI, node: LocalNode) -> None:
        node.net.apply()
        extra = (str(node.net.allocation.gateway),) if node.role == "master" and \
            balancer.balanced(spec) else ()
        pki.ensure(pki.server_files(node.engine.node_dir),
                   pki.server_request(node.engine.hostname, node.address, *extra), pki_)
        engine.write_config(node.engine)
        ssh.prepare(node, self._login(spec, node))

    def _login(self, spec: ClusterSpec, node: LocalNode) -> ssh.Login | None:
        key = ssh.cluster_key(self.cluster_dir(spec.uuid), spec.keypair,
                              self.settings.keypair_dir)
        if key is None:
            return None
        return ssh.Login(user=node.engine.login_user, public_key=key,
                         id_base=node.engine.id_base, environment=node.engine.environment)

    def start_engines(self, nodes: Sequence[LocalNode]) -> list[tuple[LocalNode, str]]:
        """Engines run and answer; those running an outdated configuration, with the hash
        they should have started with, are for the driver to restart (``engines.py``)."""
        stale = engines.start_all(nodes, start_timeout=self.settings.engine_start_timeout,
                                  stop_timeout=self.settings.stop_timeout)
        ssh.ensure(nodes)
        return stale

    def restart_dead(self, nodes: Sequence[LocalNode], *,
                     force: Sequence[str]) -> tuple[list[str], list[str]]:
        restarted = healing.restart_dead([(node.name, node.engine) for node in nodes],
                                         stop_timeout=self.settings.stop_timeout,
                                         wait=self.settings.engine_start_timeout, force=force)
        ssh.ensure(nodes)  # NOTE: after its engine, and alone when only sshd died
        return restarted

    def registry(self, cluster_uuid: str, allocation: network.Allocation) -> registry.Registry:
        return registry.Registry(
            state_dir=os.path.join(self.cluster_dir(cluster_uuid), "registry"),
            run_dir=os.path.join(self.run_dir(cluster_uuid), "registry"),
            short=network.short_id(cluster_uuid), allocation=allocation)

    def balancer(self, spec: ClusterSpec, nodes: Sequence[LocalNode]) -> balancer.Balancer:
        """The HAProxy in front of the masters' engines (``balancer.py``)."""
        gateway = str(nodes[0].net.allocation.gateway) if nodes else ""
        return balancer.Balancer(
            name=f"magna-{network.short_id(spec.uuid)}", listen=gateway,
            backends=[node.address for node in nodes if node.role == "master"],
            state_dir=self.cluster_dir(spec.uuid), run_dir=self.run_dir(spec.uuid),
            port=self.settings.api_port)

    # -- removing ---------------------------------------------------------------------------

    def remove_node(self, spec: ClusterSpec, node: LocalNode) -> None:
        """A node's namespace, cgroups and files go (its engine stopped before); its slot is
        dropped last, so a crash in between repeats this (idempotent) removal."""
        node.net.delete()
        engine.kill_node(node.engine.cgroup_parent)
        limits.remove(node.engine.cgroup_parent)
        engine.forget_authz(node.engine.authz_root, node.engine.netns)
        storage.release(node.engine.node_dir)
        for path in (node.engine.node_dir, node.engine.run_dir):
            engine.unmount_under(path)
            shutil.rmtree(path, ignore_errors=True)
        self._slots(spec.uuid).drop(node.name)
        healing.forget(self.cluster_dir(spec.uuid), node.name)

    def remove(self, cluster_uuid: str) -> None:
        teardown.remove(cluster_uuid, cluster_dir=self.cluster_dir(cluster_uuid),
                        run_dir=self.run_dir(cluster_uuid), authz_root=self.authz_root,
                        stop_timeout=self.settings.stop_timeout)

    def leftovers(self, known_clusters: set[str]) -> list[str]:
        return teardown.leftovers(self.settings.root, self.settings.run_root, known_clusters)
