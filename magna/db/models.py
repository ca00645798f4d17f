"""Database tables as SQLAlchemy 2 typed models.

The row is the hand-off between the API and the conductor: the API writes the desired state
(and bumps ``generation``); the conductor writes back what it observed. Templates and clusters
carry Magnum's column names so that ``sort_key`` means the same as upstream; legacy bays and
baymodels are views over the same tables (see ``magna.api.resources.bays``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    relationship,
)
from sqlalchemy.types import TypeDecorator

from magna.db.engine import MYSQL_DIALECTS

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# NOTE: MariaDB/MySQL's DATETIME keeps whole seconds unless given a precision; heartbeats,
# timeouts and event order need the microseconds the other backends keep.
MYSQL_DATETIME = mysql.DATETIME(fsp=6)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite and MariaDB hand them back naive).

    SQLite's text and MariaDB/MySQL's DATETIME have no time zone: values go in as UTC (their
    drivers would otherwise write an aware value's wall-clock time, whatever its zone).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in MYSQL_DIALECTS:
            return dialect.type_descriptor(MYSQL_DATETIME)
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        # NOTE: in UTC before it goes: SQLite's text and MariaDB's DATETIME keep the wall-clock
        # time and drop the zone.
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name in MYSQL_DIALECTS else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class ClusterTemplate(TimestampMixin, Base):
    __tablename__ = "cluster_template"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    project_id: Mapped[str | None] = mapped_column(String(255), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    coe: Mapped[str] = mapped_column(String(255))
    image_id: Mapped[str] = mapped_column(String(255))
    flavor_id: Mapped[str | None] = mapped_column(String(255))
    master_flavor_id: Mapped[str | None] = mapped_column(String(255))
    dns_nameserver: Mapped[str | None] = mapped_column(String(255))
    keypair_id: Mapped[str | None] = mapped_column(String(255))
    external_network_id: Mapped[str | None] = mapped_column(String(255))
    fixed_network: Mapped[str | None] = mapped_column(String(255))
    fixed_subnet: Mapped[str | None] = mapped_column(String(255))
    network_driver: Mapped[str | None] = mapped_column(String(255))
    volume_driver: Mapped[str | None] = mapped_column(String(255))
    apiserver_port: Mapped[int | None] = mapped_column(Integer)
    docker_volume_size: Mapped[int | None] = mapped_column(Integer)
    docker_storage_driver: Mapped[str | None] = mapped_column(String(255))
    cluster_distro: Mapped[str | None] = mapped_column(String(255))
    http_proxy: Mapped[str | None] = mapped_column(String(255))
    https_proxy: Mapped[str | None] = mapped_column(String(255))
    no_proxy: Mapped[str | None] = mapped_column(String(255))
    registry_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    tls_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    server_type: Mapped[str] = mapped_column(String(255), default="vm")
    insecure_registry: Mapped[str | None] = mapped_column(String(255))
    master_lb_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    floating_ip_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[str | None] = mapped_column(String(255))
    driver: Mapped[str | None] = mapped_column(String(255))


class Cluster(TimestampMixin, Base):
    __tablename__ = "cluster"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    project_id: Mapped[str | None] = mapped_column(String(255), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    cluster_template_id: Mapped[str] = mapped_column(String(36), index=True)
    keypair: Mapped[str | None] = mapped_column(String(255))
    docker_volume_size: Mapped[int | None] = mapped_column(Integer)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    master_flavor_id: Mapped[str | None] = mapped_column(String(255))
    flavor_id: Mapped[str | None] = mapped_column(String(255))
    create_timeout: Mapped[int | None] = mapped_column(Integer)
    discovery_url: Mapped[str | None] = mapped_column(String(255))
    stack_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    health_status: Mapped[str | None] = mapped_column(String(20))
    # NOTE: structured (``domain.clusters.NodeHealth`` as JSON objects); the API renders
    # Magnum's ``health_status_reason`` dict from it.
    health_conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    api_address: Mapped[str | None] = mapped_column(String(255))
    coe_version: Mapped[str | None] = mapped_column(String(255))
    container_version: Mapped[str | None] = mapped_column(String(255))
    fixed_network: Mapped[str | None] = mapped_column(String(255))
    fixed_subnet: Mapped[str | None] = mapped_column(String(255))
    floating_ip_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    master_lb_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # NOTE: desired-state bookkeeping for the conductor. The API bumps ``generation`` in the
    # same transaction that records the user's intent; the conductor advances
    # ``observed_generation`` only when the driver reports the intent realised.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    observed_generation: Mapped[int] = mapped_column(Integer, default=0)
    desired_state: Mapped[str] = mapped_column(String(20), default="present")
    max_batch_size: Mapped[int | None] = mapped_column(Integer)
    reservation: Mapped[str | None] = mapped_column(String(255), index=True)
    # NOTE: when the current status began; timeouts into *_FAILED count from here.
    status_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    nodegroups: Mapped[list[NodeGroup]] = relationship(
        lazy="selectin", order_by="NodeGroup.id",
        primaryjoin="Cluster.uuid == foreign(NodeGroup.cluster_id)", viewonly=True)


class NodeGroup(TimestampMixin, Base):
    __tablename__ = "nodegroup"
    __table_args__ = (UniqueConstraint("cluster_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    cluster_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cluster.uuid", ondelete="CASCADE"), index=True)
    project_id: Mapped[str | None] = mapped_column(String(255))
    docker_volume_size: Mapped[int | None] = mapped_column(Integer)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    flavor_id: Mapped[str | None] = mapped_column(String(255))
    image_id: Mapped[str | None] = mapped_column(String(255))
    node_addresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    node_count: Mapped[int] = mapped_column(Integer, default=1)
    role: Mapped[str] = mapped_column(String(255), default="worker")
    min_node_count: Mapped[int] = mapped_column(Integer, default=0)
    max_node_count: Mapped[int | None] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    stack_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(20))
    status_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(String(20))
    node_labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    node_taints: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    nodes_to_remove: Mapped[list[str]] = mapped_column(JSON, default=list)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    desired_state: Mapped[str] = mapped_column(String(20), default="present")


class CertificateAuthority(TimestampMixin, Base):
    """One CA of a cluster (``main``, ``etcd`` or ``front_proxy``); the key is encrypted."""

    __tablename__ = "certificate_authority"
    __table_args__ = (UniqueConstraint("cluster_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cluster.uuid", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    certificate_pem: Mapped[str] = mapped_column(Text)
    encrypted_private_key: Mapped[bytes] = mapped_column(LargeBinary)


class MagnumService(TimestampMixin, Base):
    """A conductor's heartbeat row: what ``/v1/mservices`` shows."""

    __tablename__ = "magnum_service"
    __table_args__ = (UniqueConstraint("host", "binary"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str | None] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    last_seen_up: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    forced_down: Mapped[bool] = mapped_column(Boolean, default=False)
    report_count: Mapped[int] = mapped_column(Integer, default=0)


class Quota(TimestampMixin, Base):
    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("project_id", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)


class ClusterEvent(Base):
    """One line of a cluster's history, readable by its users (``/v1/clusters/{id}/events``)."""

    __tablename__ = "cluster_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cluster.uuid", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    level: Mapped[str] = mapped_column(String(10), default="info")
    reason: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    generation: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(255))


class Container(TimestampMixin, Base):
    """A container a user runs on a swarm-mode cluster (``/v1/containers``, Magna's extension).

    The API records the intent (``desired_state``, ``generation``, ``reboot_generation``); the
    conductor that owns the cluster carries it out on the cluster's engines and writes back what
    the engine reports (``status``, ``exit_code``, ``container_id``, ``host``).
    """

    __tablename__ = "containers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    project_id: Mapped[str | None] = mapped_column(String(255), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    cluster_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("cluster.uuid", ondelete="CASCADE"), index=True)
    image: Mapped[str] = mapped_column(String(255))
    command: Mapped[list[str]] = mapped_column(JSON, default=list)
    environment: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    memory: Mapped[int | None] = mapped_column(Integer)
    desired_state: Mapped[str] = mapped_column(String(20), default="running")
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    container_id: Mapped[str | None] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(255))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    observed_generation: Mapped[int] = mapped_column(Integer, default=0)
    # NOTE: a reboot is an act, not a state: it is pending while this exceeds
    # observed_generation.
    reboot_generation: Mapped[int] = mapped_column(Integer, default=0)


class Federation(TimestampMixin, Base):
    """A named group of clusters of one project (``/v1/federations``): a host and members.

    Magna builds nothing for a federation: the row and its ``FederationMember`` rows are the
    membership. ``hostcluster_id`` references the host without cascading: the database refuses
    to remove a cluster that still hosts a federation.
    """

    __tablename__ = "federation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    project_id: Mapped[str | None] = mapped_column(String(255), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    hostcluster_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cluster.uuid"), index=True)
    properties: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str | None] = mapped_column(String(20))
    status_reason: Mapped[str | None] = mapped_column(Text)

    members: Mapped[list[FederationMember]] = relationship(
        lazy="selectin", order_by="FederationMember.id",
        primaryjoin="Federation.uuid == foreign(FederationMember.federation_id)", viewonly=True)

    @property
    def member_ids(self) -> list[str]:
        """The member clusters' UUIDs, in the order they joined."""
        return [member.cluster_id for member in self.members]


class FederationMember(Base):
    """One cluster's membership of one federation.

    NOTE: a row per membership, not a JSON list on the federation: a join is an INSERT (the
    unique constraint makes a concurrent double join a 409) and a member's deletion a DELETE
    of its rows, so two writers never rewrite one list and lose each other's change.
    """

    __tablename__ = "federation_member"
    __table_args__ = (UniqueConstraint("federation_id", "cluster_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    federation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("federation.uuid", ondelete="CASCADE"), index=True)
    cluster_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cluster.uuid", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
