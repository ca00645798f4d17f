"""Read models: what the services hand the API, so that ``magna.api`` never imports ``magna.db``.

Two kinds, chosen by what a read costs:

- **Column rows** for the hot lists: ``ClusterSummary`` and ``TemplateRow`` are NamedTuples,
  and their field order *is* the query's column order. The services select the columns named
  by ``_fields`` (``repository.cluster_columns``, ``repository.template_columns``), so the
  order is written down once, here, and views read the values by name. A row is copied into
  its NamedTuple once (``_make``, well under a microsecond); reading a SQLAlchemy ``Row`` by
  attribute cost a sixth of a list's CPU (decisions.md), reading a NamedTuple's does not.
- **Records** for single objects and detail lists: Protocols that name what a view may read.
  The ORM rows the services load satisfy them as they are; mypy checks that where a service
  returns one. NOTE: not dataclasses copied from the rows: a detail list would copy every
  attribute of every cluster and nodegroup for nothing a client could see. Sessions do not
  expire on commit and the rows come back detached, so reading a record cannot reach the
  database from the API: an attribute the service did not load raises instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol


class ClusterSummary(NamedTuple):
    """One entry of a cluster list without details (also the head of every cluster view)."""

    uuid: str
    name: str | None
    cluster_template_id: str
    keypair: str | None
    docker_volume_size: int | None
    labels: dict[str, str]
    master_flavor_id: str | None
    flavor_id: str | None
    create_timeout: int | None
    stack_id: str | None
    status: str | None
    health_status: str | None
    #: Node counts summed over the cluster's nodegroups (in SQL for a list).
    master_total: int
    worker_total: int


class TemplateRow(NamedTuple):
    """A cluster template as its views show it: Magnum's attributes in Magnum's response order
    (the view puts its links after ``cluster_distro``), then the timestamps."""

    uuid: str
    name: str | None
    coe: str
    image_id: str
    flavor_id: str | None
    master_flavor_id: str | None
    dns_nameserver: str | None
    keypair_id: str | None
    external_network_id: str | None
    fixed_network: str | None
    fixed_subnet: str | None
    network_driver: str | None
    apiserver_port: int | None
    docker_volume_size: int | None
    cluster_distro: str | None
    http_proxy: str | None
    https_proxy: str | None
    no_proxy: str | None
    volume_driver: str | None
    registry_enabled: bool
    labels: dict[str, str]
    tls_disabled: bool
    public: bool
    server_type: str
    insecure_registry: str | None
    docker_storage_driver: str | None
    master_lb_enabled: bool
    floating_ip_enabled: bool
    project_id: str | None
    user_id: str | None
    hidden: bool
    tags: str | None
    driver: str | None
    created_at: dt.datetime
    updated_at: dt.datetime | None


class NodeGroupRecord(Protocol):
    id: int
    uuid: str
    name: str
    cluster_id: str
    project_id: str | None
    docker_volume_size: int | None
    labels: dict[str, str]
    flavor_id: str | None
    image_id: str | None
    node_addresses: list[str]
    node_count: int
    role: str
    min_node_count: int
    max_node_count: int | None
    is_default: bool
    stack_id: str | None
    status: str | None
    status_reason: str | None
    version: str | None
    node_labels: dict[str, str]
    node_taints: list[dict[str, Any]]
    created_at: dt.datetime
    updated_at: dt.datetime | None


class ClusterRecord(Protocol):
    """A cluster with its nodegroups loaded (show, detail lists, the legacy bay views)."""

    uuid: str
    name: str | None
    project_id: str | None
    user_id: str | None
    cluster_template_id: str
    keypair: str | None
    docker_volume_size: int | None
    labels: dict[str, str]
    master_flavor_id: str | None
    flavor_id: str | None
    create_timeout: int | None
    discovery_url: str | None
    stack_id: str | None
    status: str | None
    status_reason: str | None
    health_status: str | None
    health_conditions: list[dict[str, Any]]
    api_address: str | None
    coe_version: str | None
    container_version: str | None
    fixed_network: str | None
    fixed_subnet: str | None
    floating_ip_enabled: bool
    master_lb_enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime | None
    @property
    def nodegroups(self) -> Sequence[NodeGroupRecord]: ...


class ContainerRecord(Protocol):
    uuid: str
    name: str | None
    cluster_uuid: str
    project_id: str | None
    user_id: str | None
    image: str
    command: list[str]
    environment: dict[str, str]
    memory: int | None
    desired_state: str
    status: str
    status_reason: str | None
    exit_code: int | None
    container_id: str | None
    host: str | None
    created_at: dt.datetime
    updated_at: dt.datetime | None


class QuotaRecord(Protocol):
    id: int
    project_id: str
    resource: str
    hard_limit: int
    created_at: dt.datetime
    updated_at: dt.datetime | None


class EventRecord(Protocol):
    """One line of a cluster's history (``/v1/clusters/{id}/events``)."""

    id: int
    created_at: dt.datetime
    level: str
    reason: str
    message: str
    generation: int | None
    source: str | None


class FederationRecord(Protocol):
    """A federation with its members loaded (``/v1/federations``)."""

    uuid: str
    name: str | None
    project_id: str | None
    user_id: str | None
    hostcluster_id: str
    properties: dict[str, str]
    status: str | None
    status_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime | None
    @property
    def member_ids(self) -> list[str]: ...
