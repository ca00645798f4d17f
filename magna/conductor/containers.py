"""One container pass over one cluster: carry out pending intent, refresh every status.

The pass holds the cluster's reservation (the same one cluster passes take), so it never runs
beside a create, scale or delete of that cluster, and a conductor that lost the cluster cannot
record anything. For each container of the cluster:

- desired ``absent``: the driver removes it from its engine, then the row goes;
- a newer ``generation`` than observed: the driver converges it (create, start, stop, pause,
  unpause, restart) and the pass records what the engine reports, advancing
  ``observed_generation``;
- otherwise: the driver observes it, so a container that exited on its own shows ``Stopped``
  with its exit code.

``TemporaryError`` leaves the intent pending (the pass runs again after the delay);
``PermanentError`` turns the container's status into ``Error`` with the driver's reason and
waits for the user's next action.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from magna.common.exceptions import PermanentError, TemporaryError
from magna.conductor.reconciler import BUSY_DELAY, Reconciler
from magna.db import models, repository
from magna.db.models import utcnow
from magna.domain import containers as rules
from magna.drivers.base import (
    ClusterType,
    ContainerHosting,
    ContainerObserved,
    ContainerPlace,
    ContainerSpec,
)
from magna.services import Services
from magna.services import containers as container_service

LOG = logging.getLogger(__name__)
PREFIX = "containers:"
REMOVE_RETRY = 10.0


@dataclass(frozen=True)
class Item:
    """One container as the pass read it."""

    uuid: str
    generation: int
    spec: ContainerSpec
    pending: bool


@dataclass(frozen=True)
class Target:
    driver: ContainerHosting
    place: ContainerPlace
    items: Sequence[Item]


def key_for(cluster_uuid: str) -> str:
    """The work-queue key of a cluster's container pass."""
    return f"{PREFIX}{cluster_uuid}"


class ContainerReconciler:
    def __init__(self, svc: Services, reconciler: Reconciler) -> None:
        self.svc = svc
        self.reconciler = reconciler
        self.host = reconciler.host

    def reconcile(self, cluster_uuid: str) -> float | None:
        """Run one container pass; return seconds after which to run again, or None."""
        with self.reconciler.holding(cluster_uuid) as held:
            if held is None:
                return BUSY_DELAY
            if not held:
                return None
            target = self._load(cluster_uuid)
            if target is None:
                return None
            delays = [self._one(cluster_uuid, target, item) for item in target.items]
            return min((d for d in delays if d is not None), default=None)

    def _load(self, cluster_uuid: str) -> Target | None:
        with self.svc.transaction() as session:
            cluster = repository.reserved_cluster(session, cluster_uuid, self.host)
            if cluster is None or cluster.desired_state == "absent":
                return None  # a deleted cluster takes its containers with it
            rows = repository.containers_of(session, cluster_uuid)
            if not rows:
                return None
            template = repository.get_template_by_uuid(session, cluster.cluster_template_id)
            driver = self.svc.drivers.for_type(ClusterType(
                template.server_type, template.cluster_distro or "", template.coe))
            if not isinstance(driver, ContainerHosting):
                return None
            place = container_service.place_of(cluster, template,
                                               self.reconciler.pki_for(session, cluster))
            items = [Item(row.uuid, row.generation, container_service.spec_of(row),
                          row.desired_state == rules.ABSENT
                          or row.observed_generation < row.generation) for row in rows]
            return Target(driver, place, items)

    def _one(self, cluster_uuid: str, target: Target, item: Item) -> float | None:
        try:
            if item.spec.desired == rules.ABSENT:
                target.driver.remove_container(target.place, item.spec)
                self._forget(cluster_uuid, item)
                return None
            if item.pending:
                observed = target.driver.converge_container(target.place, item.spec)
                return self._record(cluster_uuid, item, observed, done=True)
            if item.spec.engine_id is None:
                return None  # never made it onto an engine: nothing to observe
            observed = target.driver.observe_container(target.place, item.spec)
            return self._record(cluster_uuid, item, observed, done=False)
        except TemporaryError as exc:
            self._note(cluster_uuid, item, exc.message)
            return exc.delay
        except PermanentError as exc:
            return self._failed(cluster_uuid, item, exc.message)
        # NOTE: a driver bug must not leave the container Creating forever.
        except Exception as exc:
            LOG.exception("Container %s of cluster %s failed", item.uuid, cluster_uuid)
            return self._failed(cluster_uuid, item, f"Unexpected {type(exc).__name__}: {exc}")

    def _row(self, session: Session, cluster_uuid: str, uuid: str
             ) -> models.Container | None:
        if repository.reserved_cluster(session, cluster_uuid, self.host) is None:
            return None
        return repository.get_container(session, uuid)

    def _record(self, cluster_uuid: str, item: Item, observed: ContainerObserved, *,
                done: bool) -> float | None:
        with self.svc.transaction() as session:
            row = self._row(session, cluster_uuid, item.uuid)
            if row is None or (row.desired_state == rules.ABSENT and not done):
                return None
            row.status, row.exit_code = observed.status, observed.exit_code
            row.status_reason = observed.reason
            row.container_id = observed.engine_id or row.container_id
            row.host = observed.host or row.host
            if done:
                row.observed_generation = item.generation
                row.updated_at = utcnow()
            return 0.0 if row.generation > row.observed_generation else None

    def _failed(self, cluster_uuid: str, item: Item, reason: str) -> float | None:
        with self.svc.transaction() as session:
            row = self._row(session, cluster_uuid, item.uuid)
            if row is None:
                return None
            row.status_reason = reason[:2000]
            if row.desired_state == rules.ABSENT:
                return REMOVE_RETRY  # deletion is retried until the engine lets go
            row.status = rules.ERROR
            row.observed_generation = item.generation
            row.updated_at = utcnow()
        LOG.warning("Container %s is in error: %s", item.uuid, reason)
        return None

    def _note(self, cluster_uuid: str, item: Item, reason: str) -> None:
        with self.svc.transaction() as session:
            row = self._row(session, cluster_uuid, item.uuid)
            if row is not None:
                row.status_reason = reason[:2000]

    def _forget(self, cluster_uuid: str, item: Item) -> None:
        with self.svc.transaction() as session:
            row = self._row(session, cluster_uuid, item.uuid)
            if row is not None and row.desired_state == rules.ABSENT:
                session.delete(row)
