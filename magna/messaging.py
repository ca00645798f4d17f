# kombu ships type hints, but most of its API is unannotated.
# mypy: disable-error-code="no-untyped-call"
"""Nudges: telling conductors at once that a cluster's desired state changed.

The API stores a cluster's desired state in the database first and only then *nudges* the
conductors with the cluster's UUID. A nudge is purely a latency optimisation: every conductor
also sweeps the database periodically (``[conductor] sweep_interval``) for clusters whose
desired state is not yet realised, so a lost, duplicated or late nudge delays work but never
loses it. Nudges therefore carry nothing but a UUID, are published as non-persistent messages,
and every failure to deliver one is logged and dropped rather than reported to the API caller.

With ``magna serve`` (API and conductor in one process) nudges are plain function calls
(:class:`InProcessNudger`). When the API and the conductors run as separate processes the
nudges travel over AMQP (:class:`AmqpNudger` / :class:`NudgeListener`) through a durable
*fanout* exchange, ``magna.nudge``: every conductor receives every nudge on its own exclusive,
auto-delete queue and decides itself whether it owns the cluster.

We use kombu rather than oslo.messaging: all we need is fire-and-forget broadcast, with no RPC,
no versioned objects and no notifier machinery. kombu gives us connection recovery and a small
API, and oslo.messaging would bring its executors and driver configuration for nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.message import Message
from kombu.messaging import Consumer, Producer

LOG = logging.getLogger(__name__)

EXCHANGE_NAME = "magna.nudge"
NUDGE_EXCHANGE = Exchange(EXCHANGE_NAME, type="fanout", durable=True, auto_delete=False)

# Publishing must never hold an API request for long: one quick retry, then drop the nudge.
# (kombu 5.7's ``Connection.ensure`` takes no ``timeout``; ``interval_max`` bounds the wait and
# the connect timeout bounds each attempt.)
PUBLISH_RETRY_POLICY: dict[str, Any] = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CONNECT_TIMEOUT = 1.0
# Upper bound of the listener's reconnect backoff (seconds).
MAX_BACKOFF = 2.0


def _kombu_url(transport_url: str) -> str:
    """Accept oslo.messaging's ``rabbit://`` scheme as well as kombu's own ones."""
    if transport_url.startswith("rabbit://"):
        return "amqp://" + transport_url[len("rabbit://"):]
    return transport_url


class Nudger(Protocol):
    def nudge(self, cluster_uuid: str) -> None: ...

    def close(self) -> None: ...


class NoopNudger:
    """Nobody listens: the conductors' periodic sweep finds the work."""

    def nudge(self, cluster_uuid: str) -> None:
        return None

    def close(self) -> None:
        return None


class InProcessNudger:
    """Calls the in-process conductor directly (``magna serve``)."""

    def __init__(self, callback: Callable[[str], None]) -> None:
        self._callback = callback

    def nudge(self, cluster_uuid: str) -> None:
        try:
            self._callback(cluster_uuid)
        except Exception:
            LOG.exception("In-process nudge for cluster %s failed; the sweep will find it",
                          cluster_uuid)

    def close(self) -> None:
        return None


class AmqpNudger:
    """Publishes nudges to the ``magna.nudge`` fanout exchange; never raises, never blocks long.

    Thread-safe: one lazily (re)created connection and producer behind a lock. After a failed
    publish, nudges are dropped without trying the broker for ``failure_cooldown`` seconds so
    that a burst of API requests does not queue up behind connect timeouts.
    """

    def __init__(self, transport_url: str, *, connect_timeout: float = CONNECT_TIMEOUT,
                 failure_cooldown: float = 1.0, lock_timeout: float = 2.0) -> None:
        self._url = _kombu_url(transport_url)
        self._connect_timeout = connect_timeout
        self._failure_cooldown = failure_cooldown
        self._lock_timeout = lock_timeout
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._failed_at: float | None = None

    def nudge(self, cluster_uuid: str) -> None:
        if not self._lock.acquire(timeout=self._lock_timeout):
            LOG.warning("Dropping nudge for cluster %s: publisher busy", cluster_uuid)
            return
        try:
            if (self._failed_at is not None
                    and time.monotonic() - self._failed_at < self._failure_cooldown):
                LOG.debug("Dropping nudge for cluster %s: broker recently unreachable",
                          cluster_uuid)
                return
            try:
                producer = self._producer_locked()
                producer.publish(
                    {"cluster": cluster_uuid},
                    exchange=NUDGE_EXCHANGE,
                    routing_key="",
                    serializer="json",
                    delivery_mode=1,
                    declare=[NUDGE_EXCHANGE],
                    retry=True,
                    retry_policy=PUBLISH_RETRY_POLICY,
                )
            except Exception as exc:
                self._failed_at = time.monotonic()
                LOG.warning("Dropping nudge for cluster %s (the sweep will find it): %s",
                            cluster_uuid, exc)
                self._reset_locked()
            else:
                if self._failed_at is not None:
                    LOG.info("Publishing nudges to the message broker again")
                self._failed_at = None
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._reset_locked()

    def _producer_locked(self) -> Producer:
        if self._producer is None:
            self._connection = Connection(self._url, connect_timeout=self._connect_timeout)
            self._producer = Producer(self._connection, exchange=NUDGE_EXCHANGE,
                                      auto_declare=False)
        return self._producer

    def _reset_locked(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # pragma: no cover - closing a broken connection
                LOG.debug("Error closing the nudge publisher connection", exc_info=True)


def _parse_nudge(body: Any) -> str | None:
    """The cluster UUID of a nudge message body, or None when it is malformed."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, dict):
        return None
    cluster = body.get("cluster")
    if not isinstance(cluster, str):
        return None
    try:
        uuid.UUID(cluster)
    except ValueError:
        return None
    return cluster


class NudgeListener:
    """A conductor's subscription to nudges: calls ``callback(cluster_uuid)`` for each one.

    ``start()`` runs a daemon thread that declares an exclusive, auto-delete queue
    ``magna.nudge.<host>.<random>`` bound to the fanout exchange and consumes from it. Connection
    errors (a broker restart, a network cut) are logged and followed by a reconnect with capped
    exponential backoff, forever until ``stop()``.
    """

    def __init__(self, transport_url: str, host: str, callback: Callable[[str], None], *,
                 connect_timeout: float = 2.0, heartbeat: float = 10.0) -> None:
        self._url = _kombu_url(transport_url)
        self.host = host
        self._callback = callback
        self._connect_timeout = connect_timeout
        self._heartbeat = heartbeat
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected_once = False
        self.queue_name: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"magna-nudges-{self.host}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.5) -> None:
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():  # pragma: no cover - a connect stuck past its timeout
                LOG.warning("Nudge listener %s did not stop within %.1fs", self.host, timeout)

    @property
    def ready(self) -> bool:
        """True while the queue is declared, bound and consumed from."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the listener consumes (nudges published before that are not seen)."""
        return self._ready.wait(timeout)

    # -- the consuming thread --------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.1
        failing = False
        while not self._stopping.is_set():
            try:
                self._consume()
                backoff = 0.1
            except Exception as exc:
                self._ready.clear()
                if self._stopping.is_set():
                    break
                if not failing:
                    LOG.warning("Nudge listener %s lost the message broker (%s); reconnecting",
                                self.host, exc)
                else:
                    LOG.debug("Nudge listener %s still cannot reach the broker: %s",
                              self.host, exc)
                failing = True
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            failing = False
        self._ready.clear()

    def _consume(self) -> None:
        with Connection(self._url, connect_timeout=self._connect_timeout,
                        heartbeat=self._heartbeat) as connection:
            connection.connect()
            channel = connection.channel()
            name = f"{EXCHANGE_NAME}.{self.host}.{uuid.uuid4().hex[:12]}"
            queue = Queue(name, exchange=NUDGE_EXCHANGE, routing_key="", durable=False,
                          exclusive=True, auto_delete=True)
            consumer = Consumer(channel, queues=[queue], on_message=self._on_message,
                                no_ack=False)
            consumer.consume()
            self.queue_name = name
            if self._connected_once:
                LOG.info("Nudge listener %s reconnected to the message broker", self.host)
            self._connected_once = True
            self._ready.set()
            try:
                while not self._stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        connection.drain_events(timeout=1)
                    connection.heartbeat_check()
            finally:
                self._ready.clear()
                if self._stopping.is_set():
                    try:
                        consumer.cancel()
                    except Exception:
                        LOG.debug("Error cancelling the nudge consumer", exc_info=True)

    def _on_message(self, message: Message) -> None:
        try:
            cluster = _parse_nudge(message.body)
            if cluster is None:
                LOG.warning("Ignoring malformed nudge on %s: %r", self.queue_name,
                            message.body[:200] if message.body else message.body)
                return
            try:
                self._callback(cluster)
            except Exception:
                LOG.exception("Nudge callback for cluster %s failed", cluster)
        finally:
            try:
                message.ack()
            except Exception:
                LOG.debug("Could not ack a nudge", exc_info=True)


def make_nudger(transport_url: str | None, local: Callable[[str], None] | None) -> Nudger:
    """AMQP when a transport URL is configured, else in-process when given a callback, else none."""
    if transport_url:
        return AmqpNudger(transport_url)
    if local is not None:
        return InProcessNudger(local)
    return NoopNudger()
