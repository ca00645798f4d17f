"""The driver interface: what the API and the conductor need from a cluster driver.

The API asks a driver which (server_type, os_distro, coe) it provides and for its catalog. The
conductor hands it a ``ClusterSpec`` (the desired state, plain data) and the cluster's PKI, and
asks it to ``apply`` (create or converge, idempotently), ``delete`` (returns True once nothing
is left) and ``observe`` (status and health). Optional abilities are separate interfaces checked
with ``isinstance``: ``CredentialRotation``, ``GarbageCollecting``, ``ContainerHosting``,
``Healing``, ``Preparing``, ``KubernetesObjects``.

Drivers raise ``TemporaryError(delay)`` when work is under way and should be retried, and
``PermanentError`` when it failed in a way the user must fix; anything else is treated as a
failure with a generic reason (the traceback goes to the log).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from magna.domain.clusters import READY, NodeHealth
from magna.drivers.catalog import Catalog


class ClusterType(NamedTuple):
    server_type: str
    os_distro: str
    coe: str


@dataclass(frozen=True)
class NodeGroupSpec:
    uuid: str
    name: str
    role: str
    node_count: int
    flavor_id: str | None
    image_id: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    node_labels: Mapping[str, str] = field(default_factory=dict)
    node_taints: Sequence[Mapping[str, Any]] = ()
    nodes_to_remove: Sequence[str] = ()
    present: bool = True
    docker_volume_size: int | None = None  # GiB; the cluster's when the nodegroup sets none


@dataclass(frozen=True)
class ClusterSpec:
    """The desired state of one cluster, as the conductor read it from the database."""

    uuid: str
    name: str
    project_id: str | None
    coe: str
    generation: int
    template_uuid: str
    image_id: str
    labels: Mapping[str, str]
    nodegroups: Sequence[NodeGroupSpec]
    tls_disabled: bool = False
    master_lb_enabled: bool = False
    floating_ip_enabled: bool = True
    keypair: str | None = None
    dns_nameserver: str | None = None
    http_proxy: str | None = None
    https_proxy: str | None = None
    no_proxy: str | None = None
    registry_enabled: bool = False
    insecure_registry: str | None = None
    network_driver: str | None = None
    volume_driver: str | None = None
    docker_volume_size: int | None = None
    fixed_network: str | None = None
    fixed_subnet: str | None = None
    max_batch_size: int = 1
    docker_storage_driver: str | None = None
    external_network_id: str | None = None
    apiserver_port: int | None = None

    def nodegroup(self, role: str) -> NodeGroupSpec | None:
        return next((ng for ng in self.nodegroups if ng.role == role), None)


@dataclass(frozen=True)
class Settings:
    """What a template, a cluster or a nodegroup asks of its driver, as it would be stored (a
    cluster's and a nodegroup's with what they inherit): the fields and labels a driver
    honours or refuses in ``Driver.check_settings``. ``None``: not set."""

    labels: Mapping[str, str] = field(default_factory=dict)
    network_driver: str | None = None
    volume_driver: str | None = None
    docker_storage_driver: str | None = None
    docker_volume_size: int | None = None
    fixed_network: str | None = None
    fixed_subnet: str | None = None
    external_network_id: str | None = None
    floating_ip_enabled: bool = True
    apiserver_port: int | None = None
    master_lb_enabled: bool = False
    tls_disabled: bool = False
    http_proxy: str | None = None
    https_proxy: str | None = None
    no_proxy: str | None = None


class ClusterPKI(Protocol):
    """The cluster's CA as a driver may use it: to trust, and to have certificates signed."""

    @property
    def ca_pem(self) -> str: ...

    def sign(self, csr_pem: str) -> str: ...


@dataclass(frozen=True)
class NodeStatus:
    """One node as the driver saw it; ``healthy`` says whether ``condition`` holds (None: not
    known) and ``reason`` why not."""

    name: str
    nodegroup: str
    role: str
    address: str | None
    healthy: bool | None = None
    reason: str = ""
    condition: str = READY

    @property
    def health(self) -> NodeHealth:
        return NodeHealth(self.name, self.condition, self.healthy, self.reason)


@dataclass(frozen=True)
class Observed:
    """What the driver saw: addresses, versions, per-node health, and whether it matches spec."""

    converged: bool
    api_address: str | None = None
    stack_id: str | None = None
    coe_version: str | None = None
    container_version: str | None = None
    nodes: Sequence[NodeStatus] = ()
    notes: Sequence[str] = ()

    def addresses(self, nodegroup: str) -> list[str]:
        return [n.address for n in self.nodes if n.nodegroup == nodegroup and n.address]


class Driver(abc.ABC):
    name: str

    @property
    @abc.abstractmethod
    def provides(self) -> Sequence[ClusterType]:
        """The (server_type, os_distro, coe) tuples this driver can build."""

    @property
    @abc.abstractmethod
    def catalog(self) -> Catalog:
        """Images, flavors, networks and keypairs that templates and clusters may name."""

    def supports(self, cluster_type: ClusterType) -> bool:
        return cluster_type in self.provides

    def validate(self, spec: ClusterSpec) -> None:  # noqa: B027 - optional hook
        """Refuse a spec this driver cannot build (raise ``PermanentError``)."""

    def check_size(self, nodes: int) -> None:  # noqa: B027 - optional hook
        """Refuse (``PermanentError``, saying what limits it) a cluster of ``nodes`` nodes in
        all that this driver can never build. The API asks at create, update, resize and
        nodegroup create, so an impossible size is a 400 then, not a ``CREATE_FAILED`` later."""

    def check_settings(self, settings: Settings) -> None:  # noqa: B027 - optional hook
        """Refuse what this driver can never honour: a setting or label it does not implement,
        or a value it cannot give (a ``kube_tag`` it cannot run). Raise ``PermanentError`` or
        ``Invalid`` (a 400) naming the setting, its value and what is accepted, or
        ``NotFound`` (a 404) for a catalog entry that does not exist (a fixed network). The
        API asks at template create and update and at cluster and nodegroup create, with the
        settings the cluster or nodegroup ends up with, so a bad setting is refused before
        anything is stored. Nothing a driver accepts may be without effect."""

    @abc.abstractmethod
    def apply(self, spec: ClusterSpec, pki: ClusterPKI) -> Observed:
        """Create or converge the cluster to ``spec``; idempotent; safe after a crash."""

    @abc.abstractmethod
    def delete(self, spec: ClusterSpec) -> bool:
        """Remove everything the cluster owns; True once nothing is left."""

    @abc.abstractmethod
    def observe(self, spec: ClusterSpec, pki: ClusterPKI) -> Observed:
        """Report the cluster as it is now, without changing it."""


class CredentialRotation(abc.ABC):
    """Optional ability: replace the cloud credential a cluster uses (e.g. an application
    credential). The API accepts ``PATCH /v1/credentials/{cluster}`` only for drivers that are
    instances of this class."""

    @abc.abstractmethod
    def rotate_credential(self, cluster_uuid: str) -> None:
        """Issue a new credential for the cluster, hand it to the cluster, revoke the old one.

        Idempotent: called again after a failure, it converges to one valid credential.
        """


class Preparing(abc.ABC):
    """Optional ability: work a host does once when a conductor starts there, in the
    background (the Kubernetes driver starts building its binaries, so the first cluster waits
    less). Must return at once and never fail the conductor's start."""

    @abc.abstractmethod
    def prepare(self) -> None:
        """Start the background work; return at once."""


class GarbageCollecting(abc.ABC):
    """Optional ability: find and remove what a crash left behind for clusters that are gone."""

    @abc.abstractmethod
    def leftovers(self, known_clusters: set[str]) -> list[str]:
        """Identifiers of clusters with infrastructure on this host but no database row."""

    @abc.abstractmethod
    def collect(self, cluster_uuid: str) -> None:
        """Remove everything left of ``cluster_uuid``."""


@dataclass(frozen=True)
class ContainerPlace:
    """Where a cluster's containers live: its engines (node addresses) and how to reach them."""

    cluster_uuid: str
    nodes: Sequence[str]
    pki: ClusterPKI
    tls_disabled: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)  # the cluster's


@dataclass(frozen=True)
class ContainerSpec:
    """One container as the user wants it (``desired``: running, stopped, paused or absent).

    ``engine_id`` and ``host`` are what an earlier pass recorded; ``reboot`` asks for a restart.
    """

    uuid: str
    name: str
    image: str
    command: Sequence[str] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    memory_mb: int | None = None
    desired: str = "running"
    reboot: bool = False
    engine_id: str | None = None
    host: str | None = None


@dataclass(frozen=True)
class ContainerObserved:
    """What the engine reports: its id for the container, the node, status and exit code."""

    status: str
    engine_id: str | None = None
    host: str | None = None
    exit_code: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


class ContainerHosting(abc.ABC):
    """Optional ability: run users' containers on a cluster's engines (``/v1/containers``).

    ``converge_container`` creates the container if it does not exist yet (never pulling from a
    public registry), brings it to ``desired`` (and restarts it when ``reboot``), and reports;
    it is idempotent, so a pass repeated after a crash finds the container it made before.
    """

    @abc.abstractmethod
    def converge_container(self, place: ContainerPlace,
                           container: ContainerSpec) -> ContainerObserved:
        """Create and/or change the container to match ``container``; report the result."""

    @abc.abstractmethod
    def observe_container(self, place: ContainerPlace,
                          container: ContainerSpec) -> ContainerObserved:
        """Report the container as the engine sees it, without changing it."""

    @abc.abstractmethod
    def remove_container(self, place: ContainerPlace, container: ContainerSpec) -> None:
        """Remove the container (stopping it first); nothing to do if it is already gone."""

    @abc.abstractmethod
    def exec_in_container(self, place: ContainerPlace, container: ContainerSpec,
                          command: Sequence[str]) -> ExecResult:
        """Run ``command`` inside the running container; its combined output and exit code."""

    @abc.abstractmethod
    def container_logs(self, place: ContainerPlace, container: ContainerSpec,
                       tail: int | None) -> str:
        """The container's output (stdout and stderr), the last ``tail`` lines if given."""


class Healing(abc.ABC):
    """Optional ability: repair a settled cluster that observation found unhealthy.

    The conductor calls ``heal`` from its periodic health observation (under the cluster's
    reservation) when ``observe`` says a node is unhealthy: the analog of a VM's init system
    restarting a dead service, and, where the cluster asks for auto-healing, of replacing a
    node that cannot be repaired.
    """

    @abc.abstractmethod
    def heal(self, spec: ClusterSpec, pki: ClusterPKI) -> Observed:
        """Repair what can be repaired without changing the spec; return what is seen after.

        ``notes`` of the result say what was done (the conductor records them as events); no
        notes means nothing was done. Raises ``TemporaryError`` when the repair must be tried
        again later; it never changes the cluster's status.
        """


@dataclass(frozen=True)
class KubePlace:
    """Where a Kubernetes cluster's API server is, as the conductor recorded it."""

    cluster_uuid: str
    api_address: str | None
    tls_disabled: bool = False


class KubernetesObjects(abc.ABC):
    """Optional ability: pods, replication controllers and services of a Kubernetes cluster
    (``/v1/pods``, ``/v1/rcs``, ``/v1/services``), stored by the cluster's API server alone.

    ``kind`` is ``Pod``, ``ReplicationController`` or ``Service``; ``manifest`` is the user's
    text (YAML or JSON), kept on the object so it can be shown back. Objects are the API
    server's own documents (plain JSON). Errors are the taxonomy's: ``Invalid`` for a manifest
    that is not one object of ``kind`` or that the API server refuses, ``NotFound``,
    ``Conflict`` (already exists), ``TemporaryFailure`` when the API server does not answer.
    """

    @abc.abstractmethod
    def create_object(self, place: KubePlace, kind: str, manifest: str) -> dict[str, Any]:
        """Create the object ``manifest`` describes; the object as stored."""

    @abc.abstractmethod
    def list_objects(self, place: KubePlace, kind: str,
                     namespace: str | None) -> list[dict[str, Any]]:
        """Objects of ``kind`` in ``namespace`` (every namespace when None)."""

    @abc.abstractmethod
    def get_object(self, place: KubePlace, kind: str, name: str,
                   namespace: str) -> dict[str, Any]:
        """One object; ``NotFound`` when there is none."""

    @abc.abstractmethod
    def replace_object(self, place: KubePlace, kind: str, name: str, namespace: str,
                       manifest: str) -> dict[str, Any]:
        """Replace the object with ``manifest``, which must name the same object."""

    @abc.abstractmethod
    def scale_object(self, place: KubePlace, kind: str, name: str, namespace: str,
                     replicas: int) -> dict[str, Any]:
        """Set ``spec.replicas`` of a replication controller."""

    @abc.abstractmethod
    def delete_object(self, place: KubePlace, kind: str, name: str, namespace: str) -> None:
        """Delete the object; ``NotFound`` when there is none."""
