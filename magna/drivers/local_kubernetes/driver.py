"""The local Kubernetes driver (entry point ``local-kubernetes``): real Kubernetes clusters whose
nodes are sealed local nodes (``magna/drivers/local_nodes``), like swarm-mode's.

Every node is a sealed node with its own engine; inside it (``local_nodes/daemons.py``) run
kubelet and kube-proxy, and on masters etcd (stacked, one member per master), kube-apiserver,
kube-controller-manager and kube-scheduler (``agents.py``). The programs come from the
host-wide build of Debian's Kubernetes source (``binaries.py``): a cluster asked for while the
build runs waits in ``CREATE_IN_PROGRESS`` with the build's step as its status reason.

``apply`` runs these steps, each idempotent, so a pass converges from whatever a crash left::

    binaries built -> [nodes] subnet, slots, bridge, fence (API port on the gateway with a
    load balancer), node namespaces -> per node: credentials from the cluster's CA and
    kubeconfigs, the CNI configuration of its pod subnet, the runtime wrapper -> engines
    (unix socket only, no engine guard: tenants reach the cluster through the API server, whose
    admission refuses what would leave the node) -> images (pause, busybox, redis) -> pod routes
    between nodes (``podnet.py``) -> etcd, API servers, controller managers, schedulers
    -> API answers -> admission policy -> kubelets, kube-proxies -> nodes registered: labels
    and taints of their nodegroups -> unwanted nodes drained, deleted and destroyed
    -> load balancer (``master_lb_enabled``) -> nodes Ready -> Observed

The cluster's API address is ``https://<master 0, or the load balancer>:6443``; the driver
itself authenticates with the node layer's admin client certificate (CN=admin,
O=system:masters) from the cluster's CA.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import hashlib
import ipaddress
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import docker
import requests
from oslo_config import cfg

from magna.common.exceptions import PermanentError, TemporaryError
from magna.drivers import fencing
from magna.drivers import labels as label_rules
from magna.drivers.base import (
    ClusterPKI,
    ClusterSpec,
    Driver,
    GarbageCollecting,
    Healing,
    KubePlace,
    NodeStatus,
    Observed,
    Preparing,
    Settings,
)
from magna.drivers.local_kubernetes import (
    admission,
    agents,
    binaries,
    credentials,
    health,
    images,
    layout,
    objects,
    podnet,
)
from magna.drivers.local_kubernetes import labels as kube_labels
from magna.drivers.local_kubernetes.kubeapi import Access, KubeAPI, KubeAPIError, KubeError
from magna.drivers.local_nodes import (
    balancer,
    daemons,
    fence,
    healing,
    host,
    network,
    private_networks,
    registry,
    ssh,
)
from magna.drivers.local_nodes.catalog import LocalCatalog
from magna.drivers.local_nodes.cluster import EngineProfile, LocalNodes, NodeSettings
from magna.drivers.local_nodes.hosting import OnLocalNodes, check_network_driver
from magna.drivers.local_nodes.node import LocalNode

ROOT = "local-kubernetes"
KIND = "local Kubernetes"
# NOTE: the pod network is flannel's host-gw data path (per-node pod subnets routed between
# nodes), done natively by ``podnet.py`` rather than by flannel's daemon.
NETWORK_DRIVER = "flannel"
GROUP = "local_kubernetes"
RUNTIME_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runc.sh")
# NOTE: the kernel settings kubelet would otherwise write host-wide, pinned in every node to
# the values it expects (seal.sh "sysctl:" items).
PINNED_SYSCTLS = ("vm/overcommit_memory:1", "kernel/panic:10", "kernel/panic_on_oops:1")
API_WAIT = 30.0
READY_WAIT = 30.0
DRAIN_TIMEOUT = 60.0
_UNREACHABLE = (docker.errors.DockerException, requests.RequestException)
# NOTE: the controller manager creates it a moment after it starts; a pod asked for before
# then is refused ("serviceaccount default not found"), so a cluster is not complete without.
DEFAULT_SERVICE_ACCOUNT = {"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": "default", "namespace": "default"}}


def engine_options() -> tuple[tuple[str, str], ...]:
    """daemon.json for kubelet's engine: no Docker networking (CNI does it), cgroupfs, and the
    runtime wrapper in front of runc (``runc.sh``)."""
    return (("bridge", '"none"'), ("iptables", "false"), ("ip-masq", "false"),
            ("exec-opts", '["native.cgroupdriver=cgroupfs"]'),
            ("runtimes", json.dumps({"magna-runc": {"path": layout.RUNTIME}})),
            ("default-runtime", '"magna-runc"'))


class LocalKubernetesDriver(OnLocalNodes, Driver, GarbageCollecting, Healing, Preparing,
                            objects.ThroughKubeAPI):
    name = "local-kubernetes"
    coe = "kubernetes"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.opts = conf.local_kubernetes
        self.binaries = binaries.from_options(self.opts)
        pool = network.SubnetPool(cidr=self.opts.subnet_pool, prefix=self.opts.subnet_prefix,
                                  kind=KIND, group=GROUP)
        self.nodes = LocalNodes(NodeSettings(
            kind=KIND, root=os.path.join(conf.state_dir, ROOT), run_root=self.opts.run_dir,
            pool=pool, networks=private_networks.configured(
                conf.local_nodes.private_networks, pool),
            stop_timeout=self.opts.stop_timeout,
            engine_start_timeout=self.opts.engine_start_timeout,
            host_services=fence.parse_host_services(self.opts.host_services),
            engine_profile=self._engine_profile, api_port=layout.API_PORT, guarded=False,
            keypair_dir=os.path.join(conf.state_dir, "keypairs")))
        self._catalog = LocalCatalog(conf.state_dir, [
            net.entry() for net in self.nodes.settings.networks])

    def prepare(self) -> None:
        """``[local_kubernetes] build_on_start``: a conductor's host builds the default
        version in the background unless it is built already."""
        binaries.build_on_start(self.opts)

    # -- checks -----------------------------------------------------------------------------

    def version(self, spec: ClusterSpec) -> str:
        return binaries.version_of(spec.labels.get("kube_tag"), self.opts.default_kube_tag)

    def check_coe_settings(self, settings: Settings) -> None:
        check_network_driver(settings.network_driver, NETWORK_DRIVER, kind=KIND)
        if settings.tls_disabled:
            # NOTE: the API server, etcd, kubelets and every client authenticate each other
            # with the cluster CA's certificates; there is no plain-HTTP Kubernetes here.
            raise PermanentError(f"tls_disabled true is not available on the {KIND} driver: "
                                 "its API server, etcd and kubelets authenticate each other "
                                 "with the cluster CA's certificates.")
        label_rules.check(kube_labels.RULES, settings.labels, kind=KIND)
        binaries.version_of(settings.labels.get("kube_tag"), self.opts.default_kube_tag)
        addressing_of(settings.labels)

    def validate(self, spec: ClusterSpec) -> None:
        self.check_masters(spec, kind=KIND, coe="kubernetes", quorum="an etcd")
        self.version(spec)
        addressing = addressing_of(spec.labels)
        nodes = sum(ng.node_count for ng in spec.nodegroups if ng.present)
        if nodes > addressing.node_room:
            raise PermanentError(f"{nodes} nodes do not fit the pod network "
                                 f"{addressing.pod_cidr} in /{addressing.pod_prefix} subnets.")
        if balancer.balanced(spec):
            balancer.binary()
        self.check_size(nodes)

    def _engine_profile(self, spec: ClusterSpec) -> EngineProfile:
        bin_dir = self.binaries.bin_dir(self.version(spec))
        return EngineProfile(
            tcp=False, options=engine_options(),
            seal=(f"dir:{bin_dir}:{layout.BIN}", *(f"sysctl:{s}" for s in PINNED_SYSCTLS),
                  "kmsg"),
            on_volume=(layout.KUBELET_ROOT,))

    # -- the contract -----------------------------------------------------------------------

    def apply(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        self.nodes.require_tools()
        require_node_tools()
        version = self.version(spec)
        bin_dir = self.binaries.require(version)
        try:
            members = self.nodes.build(spec, pki_)
            fencing.checkpoint()
            return self._converge(spec, pki_, members, bin_dir, version)
        except host.CommandFailed as exc:
            raise PermanentError(f"Building the cluster on this host failed: {exc}") from None
        except daemons.NodeDown as exc:
            raise TemporaryError(f"A node is not running: {exc}", delay=2.0) from None
        except KubeError as exc:
            raise TemporaryError(f"The cluster's API server: {exc}", delay=2.0) from None
        except _UNREACHABLE as exc:
            raise TemporaryError(f"The cluster's engines are not answering yet: {exc}",
                                 delay=2.0) from None

    def observe(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        members = self._members(spec)
        if not members:
            return Observed(converged=False)
        return self._look(spec, members, self.version(spec))

    def heal(self, spec: ClusterSpec, pki_: ClusterPKI) -> Observed:
        """Restart what stopped (an engine, and with it the node's agents; an agent alone; the
        load balancer): what an init system does on a real machine. ``apply`` does exactly
        that for a cluster whose spec did not change; the note says what was found."""
        sick = [status for status in self.observe(spec, pki_).nodes if status.healthy is False]
        observed = self.apply(spec, pki_)
        notes = [f"Repaired {'; '.join(f'{s.name}: {s.reason}' for s in sick)}."] if sick else []
        still = [status for status in observed.nodes
                 if status.healthy is False and status.role != "master"]
        if still and healing.auto_healing(spec):
            # NOTE: apply waited up to READY_WAIT for them: a worker still not Ready after its
            # programs were restarted is replaced, as a cloud's auto-healer replaces a VM.
            before = {node.name for node in self._members(spec)}
            self.nodes.retire(spec.uuid, [status.name for status in still])
            notes += [f"Auto-healing: replacing worker {status.name} ({status.reason})."
                      for status in still]
            observed = self.apply(spec, pki_)
            notes += [f"Auto-healing: node {status.name} joined at {status.address}."
                      for status in observed.nodes if status.name not in before]
        return dataclasses.replace(observed, notes=(*observed.notes, *notes))

    # -- users' objects (objects.py) --------------------------------------------------------

    def kube_api_for(self, place: KubePlace) -> KubeAPI:
        return KubeAPI(objects.access_of(place, self.nodes.cluster_dir(place.cluster_uuid)))

    # -- building ---------------------------------------------------------------------------

    def _converge(self, spec: ClusterSpec, pki_: ClusterPKI, members: list[LocalNode],
                  bin_dir: str, version: str) -> Observed:
        addressing = addressing_of(spec.labels)
        masters = [node for node in members if node.role == "master"]
        gateway = str(members[0].net.allocation.gateway)
        api_server = f"https://{gateway if balancer.balanced(spec) else masters[0].address}" \
                     f":{layout.API_PORT}"
        digests = {node.name: self._write_node(spec, pki_, node, addressing, api_server,
                                               gateway) for node in members}
        build_id = _built_digest(bin_dir)
        stale = [node for node, _ in self.nodes.start_engines(members)]
        self._prepare_nodes(members, members, addressing, bin_dir)
        self._control_plane(spec, masters, addressing, digests, build_id)
        with self._api(spec, masters) as api:
            for manifest in (*admission.manifests(), DEFAULT_SERVICE_ACCOUNT):
                api.apply(manifest)
        for node in members:
            self._agents(node, addressing, f"{digests[node.name]}|{build_id}")
        if stale:
            self._roll(spec, stale, members, masters,
                       functools.partial(self._restart, members, addressing, digests, build_id,
                                         spec))
        self._uncordon(spec, members, masters)
        self._retire(spec, members, masters)
        if spec.registry_enabled:
            self._publish(spec, members[0])
        lb = self.nodes.balancer(spec, members)
        if balancer.balanced(spec):
            balancer.ensure(lb)
        else:
            balancer.stop(lb)
        deadline = time.monotonic() + READY_WAIT
        while True:
            self._profiles(spec, members, masters)
            observed = self._look(spec, members, version)
            if observed.converged and not self._accounts_ready(spec, masters):
                observed = dataclasses.replace(observed, converged=False)
            if observed.converged or time.monotonic() >= deadline:
                return observed
            time.sleep(0.5)

    def _accounts_ready(self, spec: ClusterSpec, masters: Sequence[LocalNode]) -> bool:
        """The default service account has its token: until then the ServiceAccount admission
        refuses every pod of the default namespace ("no API token found")."""
        with self._api(spec, masters) as api:
            account = api.get("/api/v1/namespaces/default/serviceaccounts/default")
        return bool(account.get("secrets"))

    def _publish(self, spec: ClusterSpec, first: LocalNode) -> None:
        """The cluster's registry (``registry_enabled``, on the gateway, trusted by every
        engine) holds the busybox image, pushed once from the first node's engine."""
        reg = self.nodes.registry(spec.uuid, first.net.allocation)
        with contextlib.closing(docker.APIClient(base_url=f"unix://{first.engine.socket}",
                                                 version="auto", timeout=60)) as api:
            if not registry.publish(reg, api, wait=READY_WAIT):
                raise TemporaryError("Waiting for the cluster's registry to answer.", delay=2.0)

    def _prepare_nodes(self, nodes: Sequence[LocalNode], members: Sequence[LocalNode],
                       addressing: layout.Addressing, bin_dir: str) -> None:
        """Images in the engines of ``nodes``, and their routes to the pods of every other
        member."""
        for node in nodes:
            with contextlib.closing(docker.APIClient(base_url=f"unix://{node.engine.socket}",
                                                     version="auto", timeout=30)) as api:
                images.ensure(api, os.path.join(bin_dir, "pause"))
        peers = [(node.slot, node.address) for node in members]
        for node in nodes:
            podnet.apply(node.net.netns, addressing, addressing.pod_subnet(node.slot),
                         podnet.routes(addressing, node.slot, peers))

    def _agents(self, node: LocalNode, addressing: layout.Addressing, extra: str) -> None:
        daemons.ensure(node, agents.kubelet(hostname=node.hostname, address=node.address,
                                            master=node.role == "master"), extra)
        daemons.ensure(node, agents.kube_proxy(hostname=node.hostname, address=node.address,
                                               addressing=addressing), extra)

    def _restart(self, members: Sequence[LocalNode], addressing: layout.Addressing,
                 digests: dict[str, str], build_id: str, spec: ClusterSpec,
                 batch: Sequence[LocalNode]) -> None:
        """Restart the engines of ``batch`` with their new configuration, then their agents
        (the control plane too, on masters)."""
        for node in batch:
            node.stop_engine(self.opts.stop_timeout)  # its agents end with its namespaces
        self.nodes.start_engines(batch)
        self._prepare_nodes(batch, members, addressing,
                            self.binaries.bin_dir(self.version(spec)))
        masters = [node for node in members if node.role == "master"]
        if any(node.role == "master" for node in batch):
            self._control_plane(spec, masters, addressing, digests, build_id)
        for node in batch:
            self._agents(node, addressing, f"{digests[node.name]}|{build_id}")

    def _roll(self, spec: ClusterSpec, stale: Sequence[LocalNode], members: Sequence[LocalNode],
              masters: Sequence[LocalNode],
              restart: Callable[[Sequence[LocalNode]], None]) -> None:
        """Engines whose configuration changed (an upgrade's image or labels) restart a batch
        at a time: masters one by one (etcd keeps its quorum), workers ``max_batch_size`` at a
        time, each batch drained first and Ready again before the next."""
        ordered = [node for node in stale if node.role == "master"]
        workers = [node for node in stale if node.role != "master"]
        size = max(1, spec.max_batch_size)
        batches = [[node] for node in ordered] + [workers[i:i + size]
                                                  for i in range(0, len(workers), size)]
        rolling = Rolling(self.nodes.cluster_dir(spec.uuid))
        for batch in batches:
            rolling.add(node.name for node in batch)
            with self._api(spec, masters) as api:
                for node in batch:
                    with contextlib.suppress(KubeError):
                        api.drain(node.hostname, DRAIN_TIMEOUT)
            restart(batch)
            deadline = time.monotonic() + READY_WAIT
            while not all(status.healthy for status in self._look(spec, members, self.version(
                    spec)).nodes if status.name in {node.name for node in batch}):
                if time.monotonic() >= deadline:
                    raise TemporaryError(f"Waiting for {', '.join(n.name for n in batch)} to "
                                         f"be Ready again after its restart.", delay=2.0)
                time.sleep(0.5)
            self._uncordon(spec, batch, masters)

    def _uncordon(self, spec: ClusterSpec, nodes: Sequence[LocalNode],
                  masters: Sequence[LocalNode]) -> None:
        """Nodes a rolling restart drained take pods again (also after a crash mid-roll)."""
        rolling = Rolling(self.nodes.cluster_dir(spec.uuid))
        if not rolling.names() & {node.name for node in nodes}:
            return
        with self._api(spec, masters) as api:
            for node in nodes:
                if node.name in rolling.names():
                    with contextlib.suppress(KubeAPIError):
                        api.uncordon(node.hostname)
                    rolling.remove(node.name)

    def _write_node(self, spec: ClusterSpec, pki_: ClusterPKI, node: LocalNode,
                    addressing: layout.Addressing, api_server: str, gateway: str) -> str:
        """The node's credentials, kubeconfigs, CNI configuration and runtime wrapper; a digest
        of what its agents read."""
        root = node.engine.root
        master = node.role == "master"
        api_names = (addressing.api_service_ip, gateway) if balancer.balanced(spec) else \
            (addressing.api_service_ip,)
        issued = credentials.plan(hostname=node.hostname, address=node.address, master=master,
                                  api_names=api_names)
        digest = credentials.write(root, issued, pki_, master=master, api_server=api_server,
                                   sa_dir=os.path.join(self.nodes.cluster_dir(spec.uuid),
                                                       credentials.SA_DIRECTORY))
        conflist = podnet.conflist(addressing.pod_subnet(node.slot))
        node.place(f"root{layout.CNI_CONF}", conflist.encode())
        with open(RUNTIME_SCRIPT, "rb") as handle:
            node.place(f"root{layout.RUNTIME}", handle.read(), 0o755)
        return f"{digest}|{conflist}"

    def _control_plane(self, spec: ClusterSpec, masters: Sequence[LocalNode],
                       addressing: layout.Addressing, digests: dict[str, str],
                       build_id: str) -> None:
        members = [agents.Member(node.hostname, node.address) for node in masters]
        token = f"magna-{network.short_id(spec.uuid)}"
        for node, me in zip(masters, members, strict=True):
            extra = f"{digests[node.name]}|{build_id}"
            daemons.ensure(node, agents.etcd(me, members, token), extra)
            daemons.ensure(node, agents.apiserver(me, addressing), extra)
        deadline = time.monotonic() + API_WAIT
        while not any(self._answers(spec, node) for node in masters):
            if time.monotonic() >= deadline:
                tails = "; ".join(f"{node.name}: {daemons.log_tail(node, agents.APISERVER)}"
                                  for node in masters)
                raise TemporaryError(f"Waiting for the API server to answer ({tails}).",
                                     delay=2.0)
            time.sleep(0.3)
        # NOTE: once the master's own API server answers (they talk to it on 127.0.0.1): its
        # bootstrap roles exist only then, and a controller manager started earlier exits. A
        # master whose API server is still starting (say, the one healing restarted) gets them
        # on the next pass; until then it is reported unhealthy, naming them.
        deadline = time.monotonic() + API_WAIT
        for node in masters:
            while not self._answers(spec, node) and time.monotonic() < deadline:
                time.sleep(0.3)
            if self._answers(spec, node):
                extra = f"{digests[node.name]}|{build_id}"
                daemons.ensure(node, agents.controller_manager(len(masters)), extra)
                daemons.ensure(node, agents.scheduler(len(masters)), extra)

    def _access(self, spec: ClusterSpec, server: str, timeout: float = 10.0) -> Access:
        files = self.nodes.client_files(spec)
        if files is None:
            raise PermanentError("A Kubernetes cluster needs TLS; this template disables it.")
        return Access(server=server, ca_file=files.ca, cert_file=files.cert,
                      key_file=files.key, timeout=timeout)

    def _answers(self, spec: ClusterSpec, node: LocalNode) -> bool:
        server = f"https://{node.address}:{layout.API_PORT}"
        with KubeAPI(self._access(spec, server, timeout=2.0)) as api:
            return api.healthy()

    def _api(self, spec: ClusterSpec, masters: Sequence[LocalNode]) -> KubeAPI:
        """A client of a master whose API server answers (the first one otherwise)."""
        for node in masters:
            if self._answers(spec, node):
                return KubeAPI(self._access(spec, f"https://{node.address}:{layout.API_PORT}"))
        return KubeAPI(self._access(spec, f"https://{masters[0].address}:{layout.API_PORT}"))

    def _profiles(self, spec: ClusterSpec, members: Sequence[LocalNode],
                  masters: Sequence[LocalNode]) -> None:
        """Registered nodes carry their nodegroup's labels and taints."""
        with self._api(spec, masters) as api:
            registered = {str(item["metadata"]["name"]) for item in api.nodes()}
            for node in members:
                if node.hostname not in registered:
                    continue
                group = next(ng for ng in spec.nodegroups if ng.name == node.nodegroup)
                labels = {"magnum.openstack.org/role": group.role,
                          "magnum.openstack.org/nodegroup": group.name, **group.node_labels}
                taints = list(group.node_taints)
                if node.role == "master":
                    labels["node-role.kubernetes.io/master"] = ""
                    taints.append({"key": agents.MASTER_TAINT, "effect": "NoSchedule"})
                api.set_node_profile(node.hostname, labels, taints)

    def _retire(self, spec: ClusterSpec, members: Sequence[LocalNode],
                masters: Sequence[LocalNode]) -> None:
        """Nodes the spec no longer asks for: drained, deleted from the API, destroyed."""
        strays = self.nodes.strays(spec, members[0].net.allocation)
        if not strays:
            return

        def drain(node: LocalNode) -> None:
            with self._api(spec, masters) as api:
                # NOTE: a node that never registered, or pods that outlive the timeout, do not
                # keep the node: the user asked for it to go.
                with contextlib.suppress(KubeError):
                    api.drain(node.hostname, DRAIN_TIMEOUT)
                api.delete_node(node.hostname)

        # NOTE: side by side: each drain waits for its pods' grace periods (30 s by default)
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(drain, strays))
        for node in strays:
            node.stop_engine(self.opts.stop_timeout)
            self.nodes.remove_node(spec, node)

    # -- looking ----------------------------------------------------------------------------

    def _look(self, spec: ClusterSpec, members: Sequence[LocalNode], version: str) -> Observed:
        masters = [node for node in members if node.role == "master"]
        answers = {node.name: self._answers(spec, node) for node in masters}
        expected = [health.ExpectedNode(node.name, node.nodegroup, node.role, node.address,
                                        node.hostname) for node in members]
        listed = None
        if any(answers.values()):
            with self._api(spec, masters) as api, contextlib.suppress(KubeError):
                listed = api.nodes()
        statuses = [_with_agents(status, node) for status, node in
                    zip(health.node_statuses(listed, expected, answers), members, strict=True)]
        strays = self.nodes.strays(spec, members[0].net.allocation)
        address = str(members[0].net.allocation.gateway) if balancer.balanced(spec) \
            else masters[0].address
        converged = all(status.healthy for status in statuses) and not strays and (
            not balancer.balanced(spec) or balancer.pid_of(
                self.nodes.balancer(spec, members)) is not None)
        return Observed(converged=converged,
                        api_address=f"https://{address}:{layout.API_PORT}",
                        coe_version=f"v{version}", container_version=_engine_version(),
                        nodes=statuses)


class Rolling:
    """The nodes a rolling restart drained and has not yet given back to the scheduler
    (``<cluster dir>/rolling.json``), so a pass after a crash mid-roll uncordons them."""

    def __init__(self, cluster_dir: str) -> None:
        self.path = os.path.join(cluster_dir, "rolling.json")

    def names(self) -> set[str]:
        try:
            with open(self.path) as handle:
                return set(json.load(handle))
        except (FileNotFoundError, ValueError):
            return set()

    def add(self, names: Iterable[str]) -> None:
        self._write(self.names() | set(names))

    def remove(self, name: str) -> None:
        self._write(self.names() - {name})

    def _write(self, names: set[str]) -> None:
        network.write_json(self.path, sorted(names))


def _with_agents(status: NodeStatus, node: LocalNode) -> NodeStatus:
    """The node's status, unhealthy too when one of its Kubernetes programs is not running."""
    names = agents.NODE_AGENTS + (agents.CONTROL_PLANE if node.role == "master" else ())
    down = [name for name in names if daemons.pid_of(node, name) is None]
    down += [ssh.NAME] if ssh.problem(node) else []
    if not down:
        return status
    reason = "; ".join(filter(None, [status.reason, f"not running: {', '.join(down)}"]))
    return dataclasses.replace(status, healthy=False, reason=reason)


def addressing_of(labels: Mapping[str, str]) -> layout.Addressing:
    """The pod and service ranges from Magnum's labels (its defaults when absent); a bad value
    is refused naming the label."""
    get = labels.get
    pod = _network(get("flannel_network_cidr", layout.POD_CIDR), "flannel_network_cidr")
    service = _network(get("service_cluster_ip_range", layout.SERVICE_CIDR),
                       "service_cluster_ip_range")
    try:
        prefix = int(get("flannel_network_subnetlen", layout.POD_SUBNET_PREFIX))
    except ValueError:
        prefix = -1
    if not pod.prefixlen < prefix <= 28:
        raise PermanentError(f"flannel_network_subnetlen must be between {pod.prefixlen + 1} "
                             f"and 28 for flannel_network_cidr {pod}.")
    if pod.overlaps(service):
        raise PermanentError(f"flannel_network_cidr {pod} overlaps service_cluster_ip_range "
                             f"{service}.")
    return layout.Addressing(pod_cidr=pod, pod_prefix=prefix, service_cidr=service)


def _network(value: str, label: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError:
        raise PermanentError(f"{label} {value} is not an IPv4 network.") from None


def require_node_tools() -> None:
    """What Kubernetes nodes need from the host beyond the engine (Debian packages)."""
    missing = [f"{path} ({package})" for path, package in (
        ("/usr/bin/etcd", "etcd-server"), ("/usr/lib/cni/bridge", "containernetworking-plugins"),
        ("/usr/sbin/conntrack", "conntrack"))
        if not os.path.exists(path)]
    if missing:
        raise PermanentError(f"The {KIND} driver needs {', '.join(missing)} on this host.")


@functools.cache
def _engine_version() -> str | None:
    try:
        said = host.run("dockerd", "--version")
    except (host.CommandFailed, FileNotFoundError):
        return None
    return said.split()[2].rstrip(",") if len(said.split()) > 2 else None


def _built_digest(bin_dir: str) -> str:
    """What identifies the build the agents run (its record of checksums)."""
    try:
        with open(os.path.join(os.path.dirname(bin_dir), "BUILT"), "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return ""
