"""The only module that builds queries.

Callers (the services) own the transaction: they open a session with ``session.begin()`` and pass
it in. Lookups take a ``Scope`` that says which projects the caller may see, so tenancy is
enforced in SQL, and an unknown or invisible resource is one and the same ``NotFound``.
``IntegrityError`` becomes ``Conflict`` here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    and_,
    cast,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.interfaces import ORMOption

from magna.common.exceptions import Conflict, Invalid, NotFound
from magna.db import models
from magna.db.engine import MYSQL_DIALECTS
from magna.domain.names import is_uuid_like
from magna.domain.paging import Page

M = TypeVar("M", bound=models.Base)

# Columns that are not sortable: JSON documents have no order.
_UNSORTABLE = {"labels", "health_conditions", "node_addresses", "node_labels", "node_taints",
               "nodes_to_remove", "encrypted_private_key", "command", "environment", "properties"}


@dataclass(frozen=True)
class Scope:
    """Which rows a caller may see: one project, or all of them (admins)."""

    project_id: str | None
    all_projects: bool = False
    include_public: bool = False


def _visible(model: type[M], scope: Scope) -> ColumnElement[bool]:
    if scope.all_projects:
        return true()
    own: ColumnElement[bool] = model.project_id == scope.project_id  # type: ignore[attr-defined]
    if scope.project_id is None:
        own = false()
    if scope.include_public and model is models.ClusterTemplate:
        return or_(own, and_(models.ClusterTemplate.public.is_(True),
                             models.ClusterTemplate.hidden.is_(False)))
    return own


def sort_column(model: type[M], key: str) -> Any:
    column = model.__table__.columns.get(key)
    if column is None or key in _UNSORTABLE:
        raise Invalid(f'The sort_key value "{key}" is an invalid field for sorting')
    return column


def sort_keys(model: type[M]) -> tuple[str, ...]:
    """The ``sort_key`` values ``sort_column`` takes for ``model`` (the API document's enum)."""
    return tuple(column.name for column in model.__table__.columns
                 if column.name not in _UNSORTABLE)


def get_by_ident(session: Session, model: type[M], ident: str, scope: Scope,
                 kind: str, where: Sequence[ColumnElement[bool]] = (),
                 options: Sequence[ORMOption] = (), shared_lock: bool = False) -> M:
    """Look a row up by UUID, by name, or (templates) by integer id; 404 or 409 when ambiguous.

    ``shared_lock`` reads it ``FOR SHARE`` (PostgreSQL; ``LOCK IN SHARE MODE`` on MariaDB;
    SQLite's writers are serialized anyway): the row cannot change or go until the caller's
    transaction ends.
    """
    stmt = select(model).where(_visible(model, scope), *where).options(*options)
    if shared_lock:
        stmt = stmt.with_for_update(read=True).execution_options(populate_existing=True)
    col_uuid = model.uuid  # type: ignore[attr-defined]
    col_name = model.name  # type: ignore[attr-defined]
    if is_uuid_like(ident):
        row = session.scalars(stmt.where(col_uuid == ident)).unique().first()
        if row is not None:
            return row
    rows = session.scalars(stmt.where(col_name == ident).limit(2)).unique().all()
    if len(rows) > 1:
        raise Conflict(f"Multiple {kind}s exist with same name. Please use the {kind} uuid "
                       "instead.")
    if rows:
        return rows[0]
    row_id = as_row_id(ident)
    if row_id is not None and model is models.ClusterTemplate:
        row = session.scalars(stmt.where(models.ClusterTemplate.id == row_id)).unique().first()
        if row is not None:
            return row
    raise NotFound(f"{_title(kind)} {ident} could not be found.")


def as_row_id(text: str) -> int | None:
    """``text`` as an integer primary key, or None when it cannot be one: not ASCII digits
    ("²" is a digit to ``isdigit`` and not to ``int``), or beyond the databases' signed 64-bit
    ids (SQLite's driver raised OverflowError on those: a 500)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)


def _title(kind: str) -> str:
    return {"clustertemplate": "ClusterTemplate", "cluster": "Cluster",
            "nodegroup": "Nodegroup", "container": "Container",
            "federation": "Federation"}.get(kind, kind.capitalize())


def list_page(session: Session, model: type[M], scope: Scope, page: Page,
              where: Sequence[ColumnElement[bool]] = (),
              options: Sequence[ORMOption] = ()) -> list[M]:
    """One page of visible rows, ordered by ``sort_key`` then ``id``, after ``marker``."""
    stmt = _paged(session, select(model).options(*options), model, scope, page, where)
    return list(session.scalars(stmt).all())


def list_page_columns(session: Session, model: type[M], scope: Scope, page: Page,
                      columns: Sequence[Any], where: Sequence[ColumnElement[bool]] = ()
                      ) -> list[Row[Any]]:
    """``list_page`` as plain rows of ``columns``: a view that needs a few columns of many
    rows is spared building (and tracking) an ORM object per row."""
    stmt = _paged(session, select(*columns), model, scope, page, where)
    return list(session.execute(stmt).all())


def _paged(session: Session, stmt: Select[Any], model: type[M], scope: Scope, page: Page,
           where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    column = sort_column(model, page.sort_key)
    ident = model.id  # type: ignore[attr-defined]
    stmt = stmt.where(_visible(model, scope), *where)
    if page.marker is not None:
        stmt = stmt.where(_after_marker(session, model, column, page))
    # NOTE: NULLS FIRST/LAST only where a column can hold NULL: on a NOT NULL column (the
    # default sort key, id) it stops PostgreSQL from reading the index in order and makes every
    # page a sort of the whole table. MariaDB/MySQL have no such clause, and need none: they
    # already put NULLs first going up and last going down, the order the markers assume.
    nulls = column.nullable and not _is_mysql(session)
    if page.sort_dir == "desc":
        first = column.desc().nulls_last() if nulls else column.desc()
        stmt = stmt.order_by(first, ident.desc())
    else:
        first = column.asc().nulls_first() if nulls else column.asc()
        stmt = stmt.order_by(first, ident.asc())
    return stmt.limit(page.limit)


def _is_mysql(session: Session) -> bool:
    return session.get_bind().dialect.name in MYSQL_DIALECTS


def _after_marker(session: Session, model: type[M], column: Any, page: Page
                  ) -> ColumnElement[bool]:
    key = model.uuid if hasattr(model, "uuid") else model.id  # type: ignore[attr-defined]
    marker_value: Any = page.marker
    if not hasattr(model, "uuid"):
        marker_value = as_row_id(str(page.marker))
        if marker_value is None:
            raise NotFound(f"Marker {page.marker} could not be found.")
    row = session.execute(select(column, model.id).where(key == marker_value)  # type: ignore
                          ).first()
    if row is None:
        raise NotFound(f"Marker {page.marker} could not be found.")
    value, marker_id = row
    ident = model.id  # type: ignore[attr-defined]
    if page.sort_dir == "desc":
        if value is None:
            return and_(column.is_(None), ident < marker_id)
        return or_(column < value, and_(column == value, ident < marker_id), column.is_(None))
    if value is None:
        return or_(and_(column.is_(None), ident > marker_id), column.is_not(None))
    return or_(column > value, and_(column == value, ident > marker_id))


def _node_total(masters: bool) -> Any:
    ng = models.NodeGroup
    role = ng.role == "master" if masters else ng.role != "master"
    # NOTE: cast: MariaDB/MySQL answer SUM of integers as a DECIMAL.
    return (select(cast(func.coalesce(func.sum(ng.node_count), 0), Integer))
            .where(ng.cluster_id == models.Cluster.uuid, role)
            .correlate(models.Cluster).scalar_subquery())


def cluster_columns(names: Sequence[str]) -> tuple[Any, ...]:
    """Columns of ``cluster`` by name, for ``list_page_columns``. ``master_total`` and
    ``worker_total`` are its nodegroups' node counts, summed in SQL: a list without details
    is spared loading every nodegroup of the page (most of the cost of a list)."""
    totals = {"master_total": _node_total(True), "worker_total": _node_total(False)}
    return tuple(totals[name].label(name) if name in totals else getattr(models.Cluster, name)
                 for name in names)


# One cluster with its nodegroups in one query: the relationship's own selectin load joins
# on the cluster's UUID, not its key, and costs more than the rest of the lookup.
WITH_NODEGROUPS: tuple[ORMOption, ...] = (joinedload(models.Cluster.nodegroups),)


def add(session: Session, row: M, conflict_message: str) -> M:
    """Insert a row now so that a uniqueness violation surfaces as ``Conflict``."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(conflict_message) from None
    return row


def template_labels(session: Session, uuids: set[str]) -> dict[str, dict[str, str]]:
    """Template labels by template UUID (a cluster view shows how its labels differ)."""
    rows = session.execute(select(models.ClusterTemplate.uuid, models.ClusterTemplate.labels)
                           .where(models.ClusterTemplate.uuid.in_(uuids))).all()
    return {uuid: labels or {} for uuid, labels in rows}


def template_in_use(session: Session, template_uuid: str) -> bool:
    stmt = select(models.Cluster.id).where(models.Cluster.cluster_template_id == template_uuid)
    return session.execute(stmt.limit(1)).first() is not None


def count_clusters(session: Session, project_id: str | None) -> int:
    stmt = select(func.count(models.Cluster.id)).where(models.Cluster.project_id == project_id)
    return int(session.scalar(stmt) or 0)


def cluster_stats(session: Session, project_id: str | None) -> tuple[int, int]:
    """(number of clusters, total nodes over all their nodegroups) for one project or all."""
    clusters = select(func.count(models.Cluster.id))
    nodes = select(func.coalesce(func.sum(models.NodeGroup.node_count), 0)).join(
        models.Cluster, models.Cluster.uuid == models.NodeGroup.cluster_id)
    if project_id is not None:
        clusters = clusters.where(models.Cluster.project_id == project_id)
        nodes = nodes.where(models.Cluster.project_id == project_id)
    return int(session.scalar(clusters) or 0), int(session.scalar(nodes) or 0)


def clusters_by_status_health(session: Session) -> dict[tuple[str, str | None], int]:
    """Clusters of every project counted by (status, health status), in one ``GROUP BY``."""
    stmt = (select(models.Cluster.status, models.Cluster.health_status,
                   func.count(models.Cluster.id))
            .group_by(models.Cluster.status, models.Cluster.health_status))
    return {(status or "", health): int(count)
            for status, health, count in session.execute(stmt).all()}


def get_quota(session: Session, project_id: str, resource: str) -> models.Quota | None:
    stmt = select(models.Quota).where(models.Quota.project_id == project_id,
                                      models.Quota.resource == resource)
    return session.scalars(stmt).first()


def get_ca(session: Session, cluster_uuid: str, kind: str
           ) -> models.CertificateAuthority | None:
    stmt = select(models.CertificateAuthority).where(
        models.CertificateAuthority.cluster_id == cluster_uuid,
        models.CertificateAuthority.kind == kind)
    return session.scalars(stmt).first()


def list_cas(session: Session, cluster_uuid: str) -> list[models.CertificateAuthority]:
    stmt = select(models.CertificateAuthority).where(
        models.CertificateAuthority.cluster_id == cluster_uuid)
    return list(session.scalars(stmt).all())


def list_services(session: Session) -> list[models.MagnumService]:
    return list(session.scalars(select(models.MagnumService).order_by(models.MagnumService.id)))


def get_nodegroup(session: Session, cluster_uuid: str, ident: str, scope: Scope
                  ) -> models.NodeGroup:
    """A nodegroup of one cluster by UUID or name (names are unique within a cluster)."""
    return get_by_ident(session, models.NodeGroup, ident, scope, "nodegroup",
                        where=[models.NodeGroup.cluster_id == cluster_uuid])


def list_nodegroups(session: Session, cluster_uuid: str, scope: Scope, page: Page,
                    role: str | None = None) -> list[models.NodeGroup]:
    """One page of a cluster's visible nodegroups, optionally of one role."""
    where = [models.NodeGroup.cluster_id == cluster_uuid]
    if role:
        where.append(models.NodeGroup.role == role)
    return list_page(session, models.NodeGroup, scope, page, where)


def get_template_by_uuid(session: Session, template_uuid: str) -> models.ClusterTemplate:
    """The template a cluster was built from, whoever owns it (the cluster already names it)."""
    return get_by_ident(session, models.ClusterTemplate, template_uuid,
                        Scope(project_id=None, all_projects=True), "clustertemplate")


def _service_row(session: Session, host: str, binary: str) -> models.MagnumService | None:
    stmt = select(models.MagnumService).where(models.MagnumService.host == host,
                                              models.MagnumService.binary == binary)
    return session.scalars(stmt.with_for_update()).first()


def upsert_service_heartbeat(session: Session, host: str, binary: str
                             ) -> models.MagnumService:
    """One heartbeat of ``(host, binary)``: create its row on the first beat, then count it.

    Every beat increments ``report_count`` and stamps ``updated_at`` and ``last_seen_up``,
    which is what ``/v1/mservices`` derives ``up``/``down`` from.
    """
    row = _service_row(session, host, binary)
    if row is None:
        try:
            row = add(session, models.MagnumService(host=host, binary=binary, report_count=0),
                      f"Service {binary} on host {host} already exists.")
        except Conflict:
            # NOTE: another process registered the same host and binary first; count on its row.
            row = _service_row(session, host, binary)
            assert row is not None
    now = models.utcnow()
    row.report_count += 1
    row.updated_at = now
    row.last_seen_up = now
    return row


# -- conductor ---------------------------------------------------------------------------------

def clusters_needing_work(session: Session) -> list[str]:
    """Clusters whose desired state is not realised: in progress, or a newer generation."""
    from magna.domain import clusters as lifecycle

    cluster = models.Cluster
    stmt = select(cluster.uuid).where(or_(
        cluster.status.in_(lifecycle.IN_PROGRESS),
        and_(cluster.observed_generation < cluster.generation,
             cluster.status.not_in(lifecycle.FAILED)))).order_by(cluster.id)
    return list(session.scalars(stmt).all())


def clusters_in(session: Session, statuses: Sequence[str]) -> list[str]:
    stmt = select(models.Cluster.uuid).where(models.Cluster.status.in_(statuses))
    return list(session.scalars(stmt.order_by(models.Cluster.id)).all())


def all_cluster_uuids(session: Session) -> set[str]:
    return set(session.scalars(select(models.Cluster.uuid)).all())


def live_hosts(session: Session, binary: str, since: Any) -> list[str]:
    """Hosts of ``binary`` whose last heartbeat is at or after ``since`` and not forced down."""
    service = models.MagnumService
    seen = func.coalesce(service.last_seen_up, service.updated_at, service.created_at)
    stmt = select(service.host).where(service.binary == binary, seen >= since,
                                      service.forced_down.is_(False))
    return sorted(h for h in session.scalars(stmt).all() if h)


def reserve_cluster(session: Session, cluster_uuid: str, host: str, binary: str,
                    since: Any) -> bool:
    """Take the cluster unless a live conductor other than ``host`` holds it.

    The holder is read with ``FOR UPDATE`` (PostgreSQL and MariaDB wait for a concurrent
    reserver and see its commit), its liveness is read in a later statement (a fresh snapshot
    under READ COMMITTED, so a conductor that heartbeat before reserving counts as live), and
    the final ``UPDATE`` is a compare-and-swap on the holder we judged, which also covers
    SQLite. (MariaDB's row count is of the rows matched, not only those changed: see
    ``db.engine``.)
    """
    cluster = models.Cluster
    holder = session.execute(select(cluster.reservation).where(cluster.uuid == cluster_uuid)
                             .with_for_update()).scalar_one_or_none()
    if holder not in (None, host) and holder in live_hosts(session, binary, since):
        return False
    same = cluster.reservation.is_(None) if holder is None else cluster.reservation == holder
    result = session.execute(update(cluster).where(cluster.uuid == cluster_uuid, same)
                             .values(reservation=host))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release_cluster(session: Session, cluster_uuid: str, host: str) -> None:
    cluster = models.Cluster
    session.execute(update(cluster).where(cluster.uuid == cluster_uuid,
                                          cluster.reservation == host)
                    .values(reservation=None))


def release_all_of(session: Session, host: str) -> int:
    """Drop every reservation ``host`` holds (a conductor starting has no passes in flight)."""
    cluster = models.Cluster
    result = session.execute(update(cluster).where(cluster.reservation == host)
                             .values(reservation=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def reserved_cluster(session: Session, cluster_uuid: str, host: str) -> models.Cluster | None:
    """The cluster row, only while ``host`` still holds its reservation (fencing)."""
    stmt = select(models.Cluster).where(models.Cluster.uuid == cluster_uuid,
                                        models.Cluster.reservation == host)
    return session.scalars(stmt).first()


def add_event(session: Session, cluster_uuid: str, *, reason: str, message: str,
              level: str = "info", generation: int | None = None,
              source: str | None = None) -> None:
    session.add(models.ClusterEvent(cluster_id=cluster_uuid, reason=reason[:64],
                                    message=message, level=level, generation=generation,
                                    source=source))


def last_event(session: Session, cluster_uuid: str) -> models.ClusterEvent | None:
    stmt = select(models.ClusterEvent).where(models.ClusterEvent.cluster_id == cluster_uuid
                                             ).order_by(models.ClusterEvent.id.desc())
    return session.scalars(stmt.limit(1)).first()


def list_events(session: Session, cluster_uuid: str, limit: int) -> list[models.ClusterEvent]:
    stmt = select(models.ClusterEvent).where(models.ClusterEvent.cluster_id == cluster_uuid
                                             ).order_by(models.ClusterEvent.id.desc())
    return list(reversed(session.scalars(stmt.limit(limit)).all()))


def destroy_cluster(session: Session, cluster_uuid: str) -> None:
    """Remove a cluster and everything that hangs off it (its infrastructure is gone)."""
    session.execute(delete(models.Container).where(models.Container.cluster_uuid == cluster_uuid))
    for model in (models.ClusterEvent, models.CertificateAuthority, models.NodeGroup,
                  models.FederationMember):
        session.execute(delete(model).where(model.cluster_id == cluster_uuid))
    session.execute(delete(models.Cluster).where(models.Cluster.uuid == cluster_uuid))


def lock_cluster(session: Session, cluster_uuid: str) -> None:
    """Hold the cluster's row ``FOR UPDATE`` until the transaction ends: whoever references it
    with a shared lock (a federation naming it as host or member) waits, then sees our commit."""
    session.execute(select(models.Cluster.id).where(models.Cluster.uuid == cluster_uuid)
                    .with_for_update())


# -- federations -------------------------------------------------------------------------------

def federations_hosted_by(session: Session, cluster_uuid: str) -> list[models.Federation]:
    stmt = select(models.Federation).where(models.Federation.hostcluster_id == cluster_uuid)
    return list(session.scalars(stmt.order_by(models.Federation.id)).all())


def federations_with_member(session: Session, cluster_uuid: str) -> list[models.Federation]:
    member = models.FederationMember
    stmt = select(models.Federation).join(
        member, member.federation_id == models.Federation.uuid).where(
        member.cluster_id == cluster_uuid)
    return list(session.scalars(stmt.order_by(models.Federation.id)).all())


def add_member(session: Session, federation: models.Federation, cluster_uuid: str,
               ident: str) -> None:
    """Record a membership; a cluster already a member (a concurrent join too) is a 409."""
    add(session, models.FederationMember(federation_id=federation.uuid, cluster_id=cluster_uuid),
        f"Cluster {ident} is already a member of federation {federation.name}.")


def remove_member(session: Session, federation_uuid: str, cluster_uuid: str) -> bool:
    """Drop a membership; whether there was one."""
    member = models.FederationMember
    result = session.execute(delete(member).where(member.federation_id == federation_uuid,
                                                  member.cluster_id == cluster_uuid))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def destroy_federation(session: Session, federation_uuid: str) -> None:
    member = models.FederationMember
    session.execute(delete(member).where(member.federation_id == federation_uuid))
    session.execute(delete(models.Federation).where(models.Federation.uuid == federation_uuid))


# -- containers --------------------------------------------------------------------------------

def containers_of(session: Session, cluster_uuid: str) -> list[models.Container]:
    stmt = select(models.Container).where(models.Container.cluster_uuid == cluster_uuid)
    return list(session.scalars(stmt.order_by(models.Container.id)).all())


def get_container(session: Session, uuid: str) -> models.Container | None:
    stmt = select(models.Container).where(models.Container.uuid == uuid)
    return session.scalars(stmt).first()


def clusters_with_containers(session: Session) -> list[str]:
    """Clusters that have at least one container (the conductor refreshes their status)."""
    stmt = select(models.Container.cluster_uuid).distinct()
    return sorted(session.scalars(stmt).all())
