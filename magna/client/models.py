"""The SDK's model layer: resources as objects, collections as managers, one ``Client``.

A model wraps the JSON the server sent (``attrs``) and reads its fields as attributes, so a newer
server's extra fields are never lost. Managers turn calls into ``api.Api`` requests; they accept
names or UUIDs wherever the server does. ``Client()`` configures itself from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from magna.client.api import Api, Patch
from magna.client.config import ClientConfig


class Resource:
    key: ClassVar[str] = "uuid"

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["attrs"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def ident(self) -> str:
        return str(self.attrs.get(self.key) or self.attrs.get("name") or "")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ident}>"


class ClusterTemplate(Resource):
    pass


class Cluster(Resource):
    @property
    def nodes_expected(self) -> int:
        return int(self.attrs.get("node_count") or 0) + int(self.attrs.get("master_count") or 0)

    @property
    def nodes_ready(self) -> int:
        """Nodes with an address: the driver built them (Magnum's own measure of progress)."""
        return len(self.attrs.get("node_addresses") or []) + len(
            self.attrs.get("master_addresses") or [])


class NodeGroup(Resource):
    pass


class Certificate(Resource):
    key = "cluster_uuid"


class MService(Resource):
    key = "id"


class Quota(Resource):
    key = "id"


class Stats(Resource):
    pass


class Keypair(Resource):
    key = "name"


class Container(Resource):
    pass


class Federation(Resource):
    pass


@dataclass(frozen=True)
class ExecResult:
    output: str
    exit_code: int


R = TypeVar("R", bound=Resource)


class Manager(Generic[R]):
    def __init__(self, api: Api, model: type[R], collection: str) -> None:
        self.api = api
        self.model = model
        self.collection = collection

    # NOTE: above ``list``, whose name shadows the builtin in the rest of the class body.
    def list_all(self, **params: Any) -> list[R]:
        """Every item, however many pages the server answers in."""
        return [self.model(item) for item in self.api.listing_all(self.collection, **params)]

    def list(self, **params: Any) -> list[R]:
        return [self.model(item) for item in self.api.listing(self.collection, **params)]

    def get(self, ident: str) -> R:
        return self.model(self.api.get(self.collection, ident))

    def create(self, **body: Any) -> R:
        """Create; the server's answer (for clusters and bays from 1.2, just ``uuid``)."""
        return self.model(self.api.create(self.collection, body))

    def update(self, ident: str, patch: Patch, *, rollback: bool = False) -> R:
        return self.model(self.api.update(self.collection, ident, patch, rollback=rollback))

    def delete(self, ident: str) -> None:
        self.api.delete(self.collection, ident)


class Clusters(Manager[Cluster]):
    def resize(self, ident: str, node_count: int, *, nodes_to_remove: list[str] | None = None,
               nodegroup: str | None = None) -> Cluster:
        body: dict[str, Any] = {"node_count": node_count}
        if nodes_to_remove:
            body["nodes_to_remove"] = nodes_to_remove
        if nodegroup:
            body["nodegroup"] = nodegroup
        return Cluster(self.api.resize_cluster(self.get(ident).uuid, body))

    def upgrade(self, ident: str, template: str, *, max_batch_size: int = 1,
                nodegroup: str | None = None) -> Cluster:
        body: dict[str, Any] = {"cluster_template": template, "max_batch_size": max_batch_size}
        if nodegroup:
            body["nodegroup"] = nodegroup
        return Cluster(self.api.upgrade_cluster(self.get(ident).uuid, body))

    def events(self, ident: str, limit: int | None = None) -> list[dict[str, Any]]:
        return self.api.cluster_events(ident, limit)


class Quotas(Manager[Quota]):
    def get_quota(self, project_id: str, resource: str) -> Quota:
        return self.get(f"{project_id}/{resource}")

    def update_quota(self, project_id: str, resource: str, hard_limit: int) -> Quota:
        return Quota(self.api.update_quota(project_id, resource, hard_limit))

    def delete_quota(self, project_id: str, resource: str) -> None:
        self.delete(f"{project_id}/{resource}")


class Federations(Manager[Federation]):
    """Federations (``/v1/federations``): ``join``/``unjoin`` are Magnum's one-cluster PATCH."""

    def join(self, ident: str, cluster: str) -> Federation:
        return self.update(ident, [{"op": "add", "path": "/member_ids", "value": cluster}])

    def unjoin(self, ident: str, cluster: str) -> Federation:
        return self.update(ident, [{"op": "remove", "path": "/member_ids", "value": cluster}])


class Containers(Manager[Container]):
    """``list(cluster=…)`` filters by cluster; the actions answer the container document."""

    ACTIONS = ("start", "stop", "reboot", "pause", "unpause")

    def act(self, ident: str, action: str) -> Container:
        return Container(self.api.container_action(ident, action))

    def start(self, ident: str) -> Container:
        return self.act(ident, "start")

    def stop(self, ident: str) -> Container:
        return self.act(ident, "stop")

    def reboot(self, ident: str) -> Container:
        return self.act(ident, "reboot")

    def pause(self, ident: str) -> Container:
        return self.act(ident, "pause")

    def unpause(self, ident: str) -> Container:
        return self.act(ident, "unpause")

    def exec(self, ident: str, command: str | list[str]) -> ExecResult:
        """Run ``command`` (a list, or one string split as a shell would) in the container."""
        data = self.api.container_exec(ident, command)
        return ExecResult(output=str(data.get("output") or ""),
                          exit_code=int(data.get("exit_code") or 0))

    def logs(self, ident: str, tail: int | None = None) -> str:
        """The container's output; the last ``tail`` lines, or all of it."""
        return str(self.api.container_logs(ident, tail).get("logs") or "")


class KubeObject(Resource):
    """A pod, replication controller or service: named by name within its namespace."""

    key = "name"


class KubeObjects:
    """Pods (``pods``), replication controllers (``rcs``) or services (``services``) of a
    Kubernetes cluster; ``cluster`` is its name or UUID, ``namespace`` defaults to
    ``default``."""

    def __init__(self, api: Api, collection: str) -> None:
        self.api = api
        self.collection = collection

    def list(self, cluster: str, namespace: str | None = None) -> list[KubeObject]:
        return [KubeObject(item)
                for item in self.api.coe_objects(self.collection, cluster, namespace)]

    def get(self, name: str, cluster: str, namespace: str | None = None) -> KubeObject:
        return KubeObject(self.api.coe_object(self.collection, name, cluster, namespace))

    def create(self, cluster: str, manifest: str) -> KubeObject:
        """Create the object ``manifest`` (YAML or JSON text, sent unchanged) describes."""
        return KubeObject(self.api.create_coe_object(self.collection, cluster, manifest))

    def replace(self, name: str, cluster: str, manifest: str,
                namespace: str | None = None) -> KubeObject:
        patch = [{"op": "replace", "path": "/manifest", "value": manifest}]
        return KubeObject(self.api.update_coe_object(self.collection, name, cluster, patch,
                                                     namespace))

    def scale(self, name: str, cluster: str, replicas: int,
              namespace: str | None = None) -> KubeObject:
        """Set a replication controller's replicas."""
        patch = [{"op": "replace", "path": "/replicas", "value": replicas}]
        return KubeObject(self.api.update_coe_object(self.collection, name, cluster, patch,
                                                     namespace))

    def delete(self, name: str, cluster: str, namespace: str | None = None) -> None:
        self.api.delete_coe_object(self.collection, name, cluster, namespace)


class Client:
    """Everything the API offers; ``Client()`` reads ``MAGNA_URL`` and friends."""

    def __init__(self, config: ClientConfig | None = None) -> None:
        self.api = Api(config or ClientConfig.from_env())
        self.cluster_templates = Manager(self.api, ClusterTemplate, "clustertemplates")
        self.clusters = Clusters(self.api, Cluster, "clusters")
        self.baymodels = Manager(self.api, ClusterTemplate, "baymodels")
        self.bays = Manager(self.api, Cluster, "bays")
        self.keypairs = Manager(self.api, Keypair, "keypairs")
        self.quotas = Quotas(self.api, Quota, "quotas")
        self.containers = Containers(self.api, Container, "containers")
        self.federations = Federations(self.api, Federation, "federations")
        self.pods = KubeObjects(self.api, "pods")
        self.rcs = KubeObjects(self.api, "rcs")
        self.coe_services = KubeObjects(self.api, "services")

    def close(self) -> None:
        self.api.close()

    def nodegroups(self, cluster: str) -> Manager[NodeGroup]:
        return Manager(self.api, NodeGroup, f"clusters/{cluster}/nodegroups")

    def ca(self, cluster: str, ca_cert_type: str | None = None) -> Certificate:
        return Certificate(self.api.get_ca(cluster, ca_cert_type))

    def sign(self, cluster: str, csr: str) -> Certificate:
        """Sign a CSR with the cluster's CA (the cluster may be named by name)."""
        return Certificate(self.api.sign(self.clusters.get(cluster).uuid, csr))

    def rotate_ca(self, cluster: str) -> None:
        self.api.rotate_ca(self.clusters.get(cluster).uuid)

    def mservices(self) -> list[MService]:
        return [MService(item) for item in self.api.listing("mservices")]

    def stats(self, project_id: str | None = None) -> Stats:
        return Stats(self.api.stats(project_id))
