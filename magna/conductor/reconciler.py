"""One reconcile pass over one cluster: reserve, read, act through the driver, record, release.

Level-triggered and idempotent: each pass reads the desired state (spec, ``generation``) and
what was observed, asks the driver to converge, and saves status, addresses, health and events on
every exit. ``observed_generation`` advances only when the driver reports the spec realised.
Every write is fenced on the reservation, so a conductor that lost its cluster to another (it
was thought dead) cannot overwrite what the new owner records; and every driver call is fenced
on the conductor's lease (``lease.py``, ``drivers/fencing.py``), so a conductor whose heartbeat
is overdue stops driving before another may take the cluster over.

Every pass is timed by outcome and every driver call by driver, operation and outcome
(``outcomes.py``, ``docs/metrics.md``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from magna.common.exceptions import PermanentError, TemporaryError
from magna.conductor.lease import Lease
from magna.conductor.outcomes import PassOutcome, Step, timed_call, timed_pass
from magna.conductor.spec import ClusterCA, build_spec
from magna.crypto import x509
from magna.db import models, repository
from magna.db.models import utcnow
from magna.domain import clusters as lifecycle
from magna.drivers import fencing
from magna.drivers.base import ClusterPKI, ClusterSpec, ClusterType, Driver, Healing, Observed
from magna.services import Services, pki

LOG = logging.getLogger(__name__)
T = TypeVar("T")

NOT_CONVERGED_DELAY = 1.0
BUSY_DELAY = 0.5
LAPSED_DELAY = 1.0


@dataclass(frozen=True)
class Work:
    """Everything one pass needs, read in one transaction."""

    spec: ClusterSpec
    status: str
    status_since: dt.datetime
    timeout_minutes: int
    deleting: bool
    pending: bool
    driver: Driver
    pki: ClusterPKI | None


class Reconciler:
    def __init__(self, svc: Services, host: str, binary: str, lease: Lease) -> None:
        self.svc = svc
        self.host = host
        self.binary = binary
        self.lease = lease
        # NOTE: the database reservation names the host, so threads of one conductor would all
        # pass it; this set keeps them off one cluster at the same time.
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()

    # -- entry points ------------------------------------------------------------------------

    def reconcile(self, cluster_uuid: str) -> float | None:
        """Run one pass; return seconds after which to run again, or None."""
        return timed_pass(lambda: self._reconcile(cluster_uuid))

    def _reconcile(self, cluster_uuid: str) -> Step:
        with self._claimed(cluster_uuid) as claimed:
            if not claimed:
                return Step(BUSY_DELAY, PassOutcome.SKIPPED)
            term = self._reserve(cluster_uuid)
            if term is None:
                # NOTE: a lapsed lease is ours to recover from (the next heartbeat), so the
                # work stays queued instead of waiting for the next sweep; a cluster another
                # live conductor holds is that conductor's.
                lapsed = self.lease.term() is None
                return Step(LAPSED_DELAY if lapsed else None, PassOutcome.SKIPPED)
            try:
                with self._fenced(term):
                    return self._pass(cluster_uuid)
            finally:
                self._release(cluster_uuid)

    def observe_health(self, cluster_uuid: str) -> None:
        """Refresh ``health_status`` of a settled cluster from what the driver sees."""
        with self._claimed(cluster_uuid) as claimed:
            term = self._reserve(cluster_uuid) if claimed else None
            if term is not None:
                try:
                    with self._fenced(term):
                        self._observe(cluster_uuid)
                finally:
                    self._release(cluster_uuid)

    @contextmanager
    def holding(self, cluster_uuid: str) -> Iterator[bool | None]:
        """Hold the cluster for another kind of pass (containers): None if a thread of this
        conductor is busy with it, False if another conductor holds it, else True."""
        with self._claimed(cluster_uuid) as claimed:
            term = self._reserve(cluster_uuid) if claimed else None
            if not claimed:
                yield None
            elif term is None:
                yield False
            else:
                try:
                    with self._fenced(term):
                        yield True
                finally:
                    self._release(cluster_uuid)

    def pki_for(self, session: Session, cluster: models.Cluster) -> ClusterPKI:
        return self._pki(session, cluster)

    @contextmanager
    def _claimed(self, cluster_uuid: str) -> Iterator[bool]:
        with self._busy_lock:
            claimed = cluster_uuid not in self._busy
            self._busy.add(cluster_uuid)
        try:
            yield claimed
        finally:
            if claimed:
                with self._busy_lock:
                    self._busy.discard(cluster_uuid)

    def _fenced(self, term: int) -> contextlib.AbstractContextManager[None]:
        """Driver checkpoints in this pass stop it once the lease of ``term`` is over."""
        return fencing.guarded(lambda: self.lease.holds(term))

    def _release(self, cluster_uuid: str) -> None:
        with self.svc.transaction() as session:
            repository.release_cluster(session, cluster_uuid, self.host)

    def _observe(self, cluster_uuid: str) -> None:
        work = self._load(cluster_uuid)
        if work is None or work.pki is None or work.status not in lifecycle.UPDATABLE:
            return
        try:
            with timed_call(work.driver.name, "observe"):
                observed = work.driver.observe(work.spec, work.pki)
        # NOTE: any observation failure means the health is UNKNOWN, not an error.
        except Exception as exc:
            LOG.warning("Observing %s failed: %s", cluster_uuid, exc)
            self._save_health(cluster_uuid, lifecycle.unobservable(exc))
            return
        health = health_of(observed)
        self._save_health(cluster_uuid, health)
        if health.status == lifecycle.UNHEALTHY and isinstance(work.driver, Healing):
            self._heal(work, work.driver)

    def _heal(self, work: Work, driver: Healing) -> None:
        """Let the driver repair an unhealthy settled cluster; record what it did as events and
        the health it sees afterwards (fenced on the reservation like every write)."""
        assert work.pki is not None
        try:
            fencing.checkpoint()
            with timed_call(work.driver.name, "heal"):
                observed = driver.heal(work.spec, work.pki)
        except fencing.Fenced:
            LOG.warning("Stopped healing cluster %s: this conductor's heartbeat is overdue",
                        work.spec.uuid)
            return
        except (TemporaryError, PermanentError) as exc:
            self._event(work, "Healing", f"Healing is not done: {exc.message}")
            return
        # NOTE: a failed repair leaves the cluster as it was (UNHEALTHY); it is tried again on
        # the next health observation.
        except Exception as exc:
            LOG.exception("Driver %s failed healing cluster %s", work.driver.name,
                          work.spec.uuid)
            self._event(work, "Healing", f"Healing failed unexpectedly: "
                                         f"{type(exc).__name__}: {exc}"[:1000])
            return
        with self.svc.transaction() as session:
            cluster = repository.reserved_cluster(session, work.spec.uuid, self.host)
            if cluster is None:
                return
            _apply_observation(cluster, observed)
            for note in observed.notes:
                self._add_event(session, work, "Healed", note, level="warning")
            self._set_health(session, cluster, health_of(observed))

    # -- the pass ----------------------------------------------------------------------------

    def _reserve(self, cluster_uuid: str) -> int | None:
        """Take the cluster unless another live conductor holds it (liveness read fresh);
        answer the lease term the reservation was taken in, or None if not taken.

        NOTE: not while our own lease has lapsed: others may think us dead and be about to
        take it (or have taken clusters that our stale ring still shows as ours)."""
        term = self.lease.term()
        if term is None:
            return None
        since = utcnow() - dt.timedelta(seconds=self.svc.conf.conductor.dead_after)
        with self.svc.transaction() as session:
            taken = repository.reserve_cluster(session, cluster_uuid, self.host, self.binary,
                                               since)
        return term if taken else None

    def _pass(self, cluster_uuid: str) -> Step:
        work = self._load(cluster_uuid)
        if work is None:
            return Step(None, PassOutcome.SKIPPED)
        if not work.pending:
            return Step(None, PassOutcome.IDLE)
        if lifecycle.timed_out(work.status, since=work.status_since, now=utcnow(),
                               minutes=work.timeout_minutes):
            # NOTE: the failed status is decided again on the row as it is when recorded.
            self._fail(work, self._timeout(work).reason)
            return Step(None, PassOutcome.FAILED)
        if work.deleting:
            return self._delete(work)
        return self._converge(work)

    def _load(self, cluster_uuid: str) -> Work | None:
        with self.svc.transaction() as session:
            cluster = repository.reserved_cluster(session, cluster_uuid, self.host)
            if cluster is None:
                return None
            template = session.get(models.ClusterTemplate, _template_id(session, cluster))
            if template is None:
                raise PermanentError("The cluster's template no longer exists.")
            driver = self.svc.drivers.for_type(ClusterType(
                template.server_type, template.cluster_distro or "", template.coe))
            deleting = cluster.desired_state == lifecycle.ABSENT
            return Work(spec=build_spec(cluster, template), status=cluster.status or "",
                        status_since=cluster.status_since or cluster.created_at,
                        timeout_minutes=self._timeout_minutes(cluster), deleting=deleting,
                        pending=lifecycle.needs_work(cluster.status,
                                                     cluster.observed_generation,
                                                     cluster.generation),
                        driver=driver, pki=None if deleting else self._pki(session, cluster))

    def _pki(self, session: Session, cluster: models.Cluster) -> ClusterPKI:
        conf = self.svc.conf.x509
        policy = x509.SigningPolicy(allowed_extensions=conf.allowed_extensions,
                                    allowed_key_usage=conf.allowed_key_usage,
                                    allow_ca=conf.allow_ca)
        return ClusterCA(pki.ca_of(self.svc, session, cluster), policy, conf.term_of_validity)

    def _timeout_minutes(self, cluster: models.Cluster) -> int:
        conductor = self.svc.conf.conductor
        return lifecycle.timeout_minutes(cluster.status, create=cluster.create_timeout,
                                         update=int(conductor.update_timeout),
                                         delete=int(conductor.delete_timeout))

    def _timeout(self, work: Work) -> lifecycle.Outcome:
        """The timeout, with what the driver was last waiting for (its last Waiting event)."""
        with self.svc.transaction() as session:
            last = repository.last_event(session, work.spec.uuid)
        waiting = last.message if last is not None and last.reason == "Waiting" else None
        return lifecycle.time_out(work.status, minutes=work.timeout_minutes, waiting=waiting)

    def _converge(self, work: Work) -> Step:
        def apply() -> Observed:
            assert work.pki is not None
            with timed_call(work.driver.name, "apply"):
                work.driver.validate(work.spec)
                return work.driver.apply(work.spec, work.pki)

        outcome = self._drive(work, apply, "converging")
        if isinstance(outcome, Observed):
            return self._record(work, outcome)
        return _after_error(outcome)

    def _drive(self, work: Work, action: Callable[[], T], doing: str) -> T | float | None:
        """Run a driver call; errors become a requeue delay (temporary) or *_FAILED (None).

        A pass whose lease lapsed does not start the call, and a driver checkpoint inside it
        ends the call (``fencing.Fenced``): no event, since the cluster may have a new owner.
        Nor does it judge a call that failed after its lease lapsed: the failure may come from
        the new owner's work under it (found by the chaos run: a paused conductor resumed
        into a node directory the new owner had deleted); the next pass runs it again."""
        try:
            fencing.checkpoint()
            return action()
        except Exception as exc:
            if not fencing.holding():
                LOG.warning("Stopped %s cluster %s: this conductor's heartbeat is overdue "
                            "(%s: %s)", doing, work.spec.uuid, type(exc).__name__, exc)
                return fencing.Fenced().delay
            return self._driver_error(work, exc, doing)

    def _driver_error(self, work: Work, error: Exception, doing: str) -> float | None:
        """What a driver error means for the cluster, recorded."""
        if isinstance(error, TemporaryError):
            self._event(work, "Waiting", error.message)
            return error.delay
        if isinstance(error, PermanentError):
            self._fail(work, error.message)
            return None
        # NOTE: a driver bug must not leave the cluster IN_PROGRESS forever.
        LOG.error("Driver %s failed %s cluster %s", work.driver.name, doing, work.spec.uuid,
                  exc_info=error)
        self._fail(work, f"Driver {work.driver.name} failed unexpectedly while {doing}: "
                         f"{type(error).__name__}: {error}"[:1000])
        return None

    def _delete(self, work: Work) -> Step:
        def delete() -> bool:
            with timed_call(work.driver.name, "delete"):
                return work.driver.delete(work.spec)

        gone = self._drive(work, delete, "deleting")
        if gone is False:
            return Step(NOT_CONVERGED_DELAY, PassOutcome.PROGRESSING)
        if gone is not True:
            return _after_error(gone)
        with self.svc.transaction() as session:
            if repository.reserved_cluster(session, work.spec.uuid, self.host) is None:
                return Step(None, PassOutcome.SKIPPED)
            repository.destroy_cluster(session, work.spec.uuid)
        LOG.info("Cluster %s deleted; nothing of it is left", work.spec.uuid)
        return Step(None, PassOutcome.DELETED)

    # -- recording ---------------------------------------------------------------------------

    def _record(self, work: Work, observed: Observed) -> Step:
        with self.svc.transaction() as session:
            cluster = repository.reserved_cluster(session, work.spec.uuid, self.host)
            if cluster is None:
                LOG.warning("Lost the reservation of %s; not recording", work.spec.uuid)
                return Step(None, PassOutcome.SKIPPED)
            _apply_observation(cluster, observed)
            for note in observed.notes:
                self._add_event(session, work, "Note", note, level="warning")
            if not observed.converged:
                return Step(NOT_CONVERGED_DELAY, PassOutcome.PROGRESSING)
            if cluster.generation != work.spec.generation:
                # the user asked for more while we worked: go again
                return Step(0.0, PassOutcome.PROGRESSING)
            self._complete(session, cluster, observed)
        return Step(None, PassOutcome.CONVERGED)

    def _complete(self, session: Session, cluster: models.Cluster, observed: Observed) -> None:
        for ng in list(cluster.nodegroups):
            if ng.desired_state == lifecycle.ABSENT:
                session.delete(ng)
            elif (done := lifecycle.nodegroup_complete(ng.status)) != ng.status:
                ng.status, ng.status_reason = done, None
        cluster.observed_generation = cluster.generation
        outcome = lifecycle.complete(cluster.status)
        if outcome.restarted:
            cluster.status, cluster.status_since = outcome.status, utcnow()
        cluster.status_reason = outcome.reason
        _record_health(cluster, health_of(observed))
        cluster.updated_at = utcnow()
        repository.add_event(session, cluster.uuid, reason="Converged",
                             message=f"{cluster.status}: {len(observed.nodes)} nodes ready",
                             generation=cluster.generation, source=self.host)

    def _fail(self, work: Work, reason: str) -> None:
        """Record a failure: the cluster's status, and those of its nodegroups in progress."""
        with self.svc.transaction() as session:
            cluster = repository.reserved_cluster(session, work.spec.uuid, self.host)
            if cluster is None:
                return
            outcome = lifecycle.fail(cluster.status, reason)
            for ng in cluster.nodegroups:
                if (failed := lifecycle.nodegroup_fail(ng.status)) != ng.status:
                    ng.status, ng.status_reason = failed, outcome.reason
            cluster.status, cluster.status_reason = outcome.status, outcome.reason
            cluster.status_since = cluster.updated_at = utcnow()
            self._add_event(session, work, "Failed", outcome.reason, level="error")
        LOG.warning("Cluster %s is %s: %s", work.spec.uuid, outcome.status, outcome.reason)

    def _event(self, work: Work, reason: str, message: str) -> None:
        """Record a waiting note once, not on every retry; while the cluster's operation is
        in progress the note is its status reason too (e.g. the step of a build it waits for)."""
        with self.svc.transaction() as session:
            last = repository.last_event(session, work.spec.uuid)
            if last is None or (last.reason, last.message) != (reason, message):
                self._add_event(session, work, reason, message)
            cluster = repository.reserved_cluster(session, work.spec.uuid, self.host)
            if cluster is not None and cluster.status in lifecycle.IN_PROGRESS:
                cluster.status_reason = message[:1000]

    def _add_event(self, session: Session, work: Work, reason: str, message: str,
                   level: str = "info") -> None:
        repository.add_event(session, work.spec.uuid, reason=reason, message=message,
                             level=level, generation=work.spec.generation, source=self.host)

    def _save_health(self, cluster_uuid: str, health: lifecycle.Health) -> None:
        with self.svc.transaction() as session:
            cluster = repository.reserved_cluster(session, cluster_uuid, self.host)
            if cluster is not None:
                self._set_health(session, cluster, health)

    def _set_health(self, session: Session, cluster: models.Cluster,
                    health: lifecycle.Health) -> None:
        """Record the health; a change between HEALTHY and UNHEALTHY is also an event, so the
        cluster's history says when it turned unhealthy, why, and when it recovered."""
        message = lifecycle.health_change(cluster.health_status, health)
        _record_health(cluster, health)
        if message is None:
            return
        repository.add_event(session, cluster.uuid, reason="Health", message=message,
                             level="warning" if health.status == lifecycle.UNHEALTHY else "info",
                             generation=cluster.generation, source=self.host)


def _after_error(delay: float | None) -> Step:
    """What ``_drive`` answered for a driver error: a requeue delay, or None once the failure
    was recorded."""
    return Step(None, PassOutcome.FAILED) if delay is None else Step(delay,
                                                                    PassOutcome.WAITING)


def _template_id(session: Session, cluster: models.Cluster) -> int | None:
    template = repository.get_template_by_uuid(session, cluster.cluster_template_id)
    return template.id


def _apply_observation(cluster: models.Cluster, observed: Observed) -> None:
    cluster.api_address = observed.api_address or cluster.api_address
    cluster.stack_id = observed.stack_id or cluster.stack_id
    cluster.coe_version = observed.coe_version or cluster.coe_version
    cluster.container_version = observed.container_version or cluster.container_version
    for ng in cluster.nodegroups:
        ng.node_addresses = observed.addresses(ng.name)
        ng.stack_id = cluster.stack_id


def health_of(observed: Observed) -> lifecycle.Health:
    """The cluster's health from what the driver saw: the API endpoint and each node."""
    return lifecycle.assess(observed.api_address, [node.health for node in observed.nodes])


def _record_health(cluster: models.Cluster, health: lifecycle.Health) -> None:
    cluster.health_status = health.status
    cluster.health_conditions = lifecycle.conditions_to_json(health.conditions)
