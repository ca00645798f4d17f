"""A conductor process (or the conductor inside ``magna serve``): threads and their loops.

- heartbeat: upserts this host's ``magnum_service`` row every ``heartbeat_interval``, which
  renews this conductor's lease (``lease.py``: past it, passes stop driving), and reads which
  conductors are alive; when one has died, the sweep runs at once to take over its clusters;
- sweep: every ``sweep_interval``, queues each cluster that needs work and that this conductor
  owns on the hash ring of live conductors (the correctness mechanism);
- health: every ``health_interval``, observes settled clusters this conductor owns and, when one
  is UNHEALTHY and its driver can heal (``drivers.base.Healing``), has it repaired;
- workers: ``workers`` threads take UUIDs from the queue and run a reconcile pass;
- nudges: ``nudged(uuid)`` (in-process or from AMQP) queues an owned cluster at once;
- containers: every sweep (and nudge) also queues a container pass for each owned cluster that
  has containers (``conductor/containers.py``): pending actions, then fresh statuses.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Protocol

from magna.conductor import containers
from magna.conductor.lease import Lease, lease_seconds
from magna.conductor.reconciler import Reconciler
from magna.conductor.ring import HashRing
from magna.conductor.workqueue import WorkQueue
from magna.db import repository
from magna.db.models import utcnow
from magna.domain import clusters as lifecycle
from magna.drivers.base import GarbageCollecting
from magna.hostcheck import requirements
from magna.services import Services

LOG = logging.getLogger(__name__)
BINARY = "magnum-conductor"


class NudgeSource(Protocol):
    """Where nudges come from (``messaging.NudgeListener``): started and stopped with us."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Conductor:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.conf = svc.conf.conductor
        self.host: str = svc.conf.host
        self.queue = WorkQueue()
        self._stop = threading.Event()
        self._sweep_now = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ring = HashRing([self.host])
        self._live: list[str] = [self.host]
        self.lease = Lease(lease_seconds(self.conf))
        self.reconciler = Reconciler(svc, self.host, BINARY, self.lease)
        self.containers = containers.ContainerReconciler(svc, self.reconciler)
        self._listener: NudgeSource | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        # NOTE: a conductor restarted after a crash (same host name) would otherwise keep the
        # reservations of passes that died with it, and block the clusters' new owners.
        with self.svc.transaction() as session:
            stale = repository.release_all_of(session, self.host)
        if stale:
            LOG.warning("Released %d reservations left by a previous run of %s", stale,
                        self.host)
        warn_missing_requirements()
        self.heartbeat()
        self._refresh_ring()
        self._spawn("heartbeat", self._every(self.conf.heartbeat_interval, self._beat))
        self._spawn("sweep", self._sweeping)
        if self.conf.health_interval > 0:
            self._spawn("health", self._every(self.conf.health_interval, self.observe_health))
        for index in range(self.conf.workers):
            self._spawn(f"worker-{index}", self._work)
        if self._listener is not None:
            self._listener.start()
        LOG.info("Conductor %s started with %d workers", self.host, self.conf.workers)

    def stop(self) -> None:
        self._stop.set()
        self._sweep_now.set()
        self.queue.close()
        if self._listener is not None:
            self._listener.stop()
        for thread in self._threads:
            thread.join(timeout=30)
        LOG.info("Conductor %s stopped", self.host)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"conductor-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _every(self, interval: float, action: Callable[[], None]) -> Callable[[], None]:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    action()
                except Exception:
                    LOG.exception("Periodic task %s failed; it runs again next time",
                                  getattr(action, "__name__", action))
        return loop

    def _sweeping(self) -> None:
        """Sweep every ``sweep_interval``, or at once when a heartbeat saw a conductor die."""
        while True:
            self._sweep_now.wait(self.conf.sweep_interval)
            self._sweep_now.clear()
            if self._stop.is_set():
                return
            try:
                self.sweep()
            except Exception:
                LOG.exception("The sweep failed; it runs again next time")

    def listen(self, source: NudgeSource) -> None:
        """Hear nudges from ``source`` (which calls ``nudged``) while running; before start.

        NOTE: the conductor does not choose a transport: ``magna.cmd.compose`` wires nudges
        for every process in one place.
        """
        self._listener = source

    # -- ownership ---------------------------------------------------------------------------

    def heartbeat(self) -> None:
        began = self.lease.clock()
        with self.svc.transaction() as session:
            repository.upsert_service_heartbeat(session, self.host, BINARY)
        self.lease.renewed(began)

    def _beat(self) -> None:
        self.heartbeat()
        if self._refresh_ring():
            # NOTE: a conductor died: its clusters are ours now (some of them), and their
            # hand-over should not wait for the next periodic sweep.
            self._sweep_now.set()

    def _refresh_ring(self) -> bool:
        """Read the live conductors into the ring; True if one we counted is gone."""
        since = utcnow() - dt.timedelta(seconds=self.conf.dead_after)
        with self.svc.transaction() as session:
            live = repository.live_hosts(session, BINARY, since)
        if self.host not in live:
            live = sorted({*live, self.host})
        if live != self._live:
            LOG.info("Live conductors: %s", ", ".join(live))
        departed = bool(set(self._live) - set(live))
        self._live = live
        self._ring = HashRing(live)
        return departed

    def owns(self, cluster_uuid: str) -> bool:
        return self._ring.owns(self.host, cluster_uuid)

    def nudged(self, cluster_uuid: str) -> None:
        if self.owns(cluster_uuid):
            self.queue.put(cluster_uuid)
            self.queue.put(containers.key_for(cluster_uuid))

    # -- periodic work -----------------------------------------------------------------------

    def sweep(self) -> None:
        """Queue every owned cluster whose desired state is not yet realised."""
        self._refresh_ring()
        with self.svc.transaction() as session:
            pending = repository.clusters_needing_work(session)
        for cluster_uuid in pending:
            if self.owns(cluster_uuid):
                self.queue.put(cluster_uuid)
        self._sweep_containers()
        try:
            self.collect_garbage()
        except Exception:
            LOG.exception("Garbage collection failed; the sweep itself is done")

    def _sweep_containers(self) -> None:
        """Queue a container pass (pending intent, fresh status) for each owned cluster."""
        with self.svc.transaction() as session:
            hosting = repository.clusters_with_containers(session)
        for cluster_uuid in hosting:
            if self.owns(cluster_uuid):
                self.queue.put(containers.key_for(cluster_uuid))

    def observe_health(self) -> None:
        with self.svc.transaction() as session:
            settled = repository.clusters_in(session, sorted(lifecycle.UPDATABLE))
        for cluster_uuid in settled:
            if self.owns(cluster_uuid) and not self._stop.is_set():
                self.reconciler.observe_health(cluster_uuid)

    def collect_garbage(self) -> None:
        """Remove infrastructure that belongs to no cluster (left by a crash), on this host."""
        with self.svc.transaction() as session:
            known = repository.all_cluster_uuids(session)
        for driver in self.svc.drivers.drivers:
            if isinstance(driver, GarbageCollecting):
                self._collect(driver, known)

    def _collect(self, driver: GarbageCollecting, known: set[str]) -> None:
        candidates = driver.leftovers(known)
        if not candidates:
            return
        # NOTE: a cluster row always exists before its infrastructure, so reading the rows again
        # after listing leftovers closes the race with a cluster created meanwhile.
        with self.svc.transaction() as session:
            known = repository.all_cluster_uuids(session)
        for leftover in candidates:
            if leftover not in known:
                LOG.warning("Removing leftovers of unknown cluster %s", leftover)
                try:
                    driver.collect(leftover)
                except Exception:
                    LOG.exception("Removing leftovers of %s failed; trying again next sweep",
                                  leftover)

    def _work(self) -> None:
        while not self._stop.is_set():
            cluster_uuid = self.queue.get(timeout=1.0)
            if cluster_uuid is None:
                continue
            delay: float | None = None
            try:
                delay = self._run(cluster_uuid)
            except Exception:
                LOG.exception("Reconciling %s failed; the sweep will retry", cluster_uuid)
            finally:
                self.queue.done(cluster_uuid)
            if delay is not None and not self._stop.is_set():
                self.queue.put(cluster_uuid, delay)

    def _run(self, key: str) -> float | None:
        if key.startswith(containers.PREFIX):
            return self.containers.reconcile(key.removeprefix(containers.PREFIX))
        return self.reconciler.reconcile(key)


def warn_missing_requirements() -> None:
    """One warning per thing the local drivers need that this host lacks (the drivers fail
    with their own message when they meet it; this says so at start)."""
    for requirement in requirements.missing():
        LOG.warning("This host lacks what the local drivers need (%s): %s", requirement.name,
                    requirement.detail)
