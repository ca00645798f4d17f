"""Nudges over a real RabbitMQ: fanout delivery, malformed messages, an unreachable or silent
broker, and a broker restart under a running listener."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from kombu.connection import Connection
from kombu.messaging import Producer

from magna.messaging import (
    NUDGE_EXCHANGE,
    AmqpNudger,
    InProcessNudger,
    NoopNudger,
    NudgeListener,
    make_nudger,
)
from tests.support import backing

URL = "amqp://guest:guest@127.0.0.1:5672//"
CLOSED_PORT_URL = "amqp://guest:guest@127.0.0.1:1//"


class Inbox:
    """Collects the UUIDs a listener delivers; waits for a given one with a deadline."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, cluster_uuid: str) -> None:
        with self._cond:
            self.received.append(cluster_uuid)
            self._cond.notify_all()

    def wait_for(self, cluster_uuid: str, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: cluster_uuid in self.received, timeout)


def host(name: str) -> str:
    return f"test-{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", autouse=True)
def rabbitmq() -> None:
    backing.ensure_rabbitmq()


@pytest.fixture
def nudger() -> Iterator[AmqpNudger]:
    n = AmqpNudger(URL)
    try:
        yield n
    finally:
        n.close()


def started(listener: NudgeListener) -> NudgeListener:
    listener.start()
    assert listener.wait_ready(5), "listener did not start consuming"
    return listener


def stop_within(listener: NudgeListener, seconds: float = 2.5) -> None:
    began = time.monotonic()
    listener.stop()
    assert time.monotonic() - began < seconds


def test_listener_receives_a_published_nudge(nudger: AmqpNudger) -> None:
    inbox = Inbox()
    listener = NudgeListener(URL, host("one"), inbox)
    try:
        started(listener)
        cluster = str(uuid.uuid4())
        began = time.monotonic()
        nudger.nudge(cluster)
        assert time.monotonic() - began < 1.0
        assert inbox.wait_for(cluster, 5)
        assert inbox.received == [cluster]
    finally:
        stop_within(listener)
    assert not listener.ready


def test_every_conductor_receives_every_nudge(nudger: AmqpNudger) -> None:
    inboxes = [Inbox(), Inbox()]
    listeners = [NudgeListener(URL, host(f"conductor{i}"), inbox)
                 for i, inbox in enumerate(inboxes)]
    try:
        for listener in listeners:
            started(listener)
        assert listeners[0].queue_name != listeners[1].queue_name
        clusters = [str(uuid.uuid4()) for _ in range(3)]
        for cluster in clusters:
            nudger.nudge(cluster)
        for inbox in inboxes:
            for cluster in clusters:
                assert inbox.wait_for(cluster, 5)
            assert sorted(inbox.received) == sorted(clusters)
    finally:
        for listener in listeners:
            stop_within(listener)


def test_concurrent_nudges_from_a_thread_pool(nudger: AmqpNudger) -> None:
    inbox = Inbox()
    listener = NudgeListener(URL, host("pool"), inbox)
    try:
        started(listener)
        clusters = [str(uuid.uuid4()) for _ in range(200)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(nudger.nudge, clusters))
        for cluster in clusters:
            assert inbox.wait_for(cluster, 5)
        assert sorted(inbox.received) == sorted(clusters)
    finally:
        stop_within(listener)


def test_malformed_messages_are_ignored(nudger: AmqpNudger) -> None:
    bad_cluster = str(uuid.uuid4())

    def callback(cluster_uuid: str) -> None:
        if cluster_uuid == bad_cluster:
            raise RuntimeError("conductor callback failed")
        inbox(cluster_uuid)

    inbox = Inbox()
    listener = NudgeListener(URL, host("malformed"), callback)
    try:
        started(listener)
        with Connection(URL, connect_timeout=2) as connection:
            producer = Producer(connection.channel(), exchange=NUDGE_EXCHANGE)
            raw = [
                (b"not json at all", "application/json"),
                (b"\xff\xfe\x00garbage", "application/octet-stream"),
                (b"[1, 2, 3]", "application/json"),
                (b'{"other": "field"}', "application/json"),
                (b'{"cluster": 42}', "application/json"),
                (b'{"cluster": "not-a-uuid"}', "application/json"),
                (b"", "application/json"),
            ]
            for body, content_type in raw:
                producer.publish(body, routing_key="", content_type=content_type,
                                 content_encoding="binary")
        nudger.nudge(bad_cluster)  # the callback raises: logged, the listener goes on
        good = str(uuid.uuid4())
        nudger.nudge(good)
        assert inbox.wait_for(good, 5)
        assert inbox.received == [good]
        assert listener.ready
        again = str(uuid.uuid4())
        nudger.nudge(again)
        assert inbox.wait_for(again, 5)
    finally:
        stop_within(listener)


def test_publishing_to_an_unreachable_broker_returns_quickly() -> None:
    n = AmqpNudger(CLOSED_PORT_URL)
    try:
        for _ in range(3):
            began = time.monotonic()
            n.nudge(str(uuid.uuid4()))  # must not raise
            assert time.monotonic() - began < 3.0
    finally:
        n.close()


def test_publishing_to_a_silent_broker_returns_quickly() -> None:
    """A peer that accepts TCP but never speaks AMQP: bounded by the connect timeout."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        n = AmqpNudger(f"amqp://guest:guest@127.0.0.1:{port}//")
        try:
            began = time.monotonic()
            n.nudge(str(uuid.uuid4()))
            assert time.monotonic() - began < 3.0
        finally:
            n.close()


def _rabbitmqctl(*args: str, timeout: float = 60) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=timeout)


@pytest.mark.rabbitmq_restart
def test_listener_and_publisher_survive_a_broker_restart() -> None:
    inbox = Inbox()
    listener = NudgeListener(URL, host("restart"), inbox)
    # A short cooldown so the nudge dropped during the outage cannot shadow the one after it.
    n = AmqpNudger(URL, failure_cooldown=0.2)
    try:
        started(listener)
        before = str(uuid.uuid4())
        n.nudge(before)
        assert inbox.wait_for(before, 5)

        try:
            _rabbitmqctl("stop_app")
            deadline = time.monotonic() + 10
            while listener.ready and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not listener.ready, "the listener did not notice the broker going away"
            began = time.monotonic()
            n.nudge(str(uuid.uuid4()))  # dropped, never raised
            assert time.monotonic() - began < 3.0
        finally:
            restarting = time.monotonic()
            _rabbitmqctl("start_app")
            _rabbitmqctl("await_startup")
        back = time.monotonic()

        assert listener.wait_ready(20), "the listener did not reconnect"
        after = str(uuid.uuid4())
        n.nudge(after)
        assert inbox.wait_for(after, max(0.5, 20 - (time.monotonic() - back)))
        recovery = time.monotonic() - back
        assert recovery < 20
        print(f"broker restart took {back - restarting:.2f}s; nudge delivered {recovery:.2f}s "
              f"after the broker was back")
    finally:
        n.close()
        stop_within(listener)


def test_make_nudger_chooses_the_transport() -> None:
    calls: list[str] = []
    amqp = make_nudger(URL, calls.append)
    try:
        assert isinstance(amqp, AmqpNudger)
    finally:
        amqp.close()
    local = make_nudger(None, calls.append)
    assert isinstance(local, InProcessNudger)
    local.nudge("abc")
    assert calls == ["abc"]
    assert isinstance(make_nudger(None, None), NoopNudger)
    make_nudger("", None).nudge("ignored")


def test_in_process_nudger_never_raises() -> None:
    def boom(cluster_uuid: str) -> None:
        raise RuntimeError(cluster_uuid)

    InProcessNudger(boom).nudge(str(uuid.uuid4()))
