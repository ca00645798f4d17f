"""API worker processes, each accepting on a listening socket of its own.

Why not uvicorn's multi-process mode: its workers share one listening socket, and the worker
whose event loop wakes first accepts every connection waiting in the queue (uvloop, like
asyncio, accepts in a loop until the queue is empty). A client that opens its keep-alive
connections in a burst (a load balancer's pool, an SDK's session pool, ``wrk``) then has all of
them served by one worker while the others idle: 16 connections to two workers landed 16/0 in
three tries of five. Here every worker has a socket bound to the same address with
``SO_REUSEPORT``, and the kernel hands each new connection to one of them by a hash of its
addresses, so connections spread whether or not they arrive together.

The supervisor (the parent process) binds every socket before it starts any worker, replaces a
worker that dies on the same socket, and stops them all on SIGINT or SIGTERM. Workers are
spawned, not forked: the parent may run a conductor's threads (``magna serve``).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

LOG = logging.getLogger(__name__)

#: Seconds a worker has to finish its requests after SIGTERM before it is killed.
STOP_GRACE = 10.0
#: A worker that fails sooner than this after its start is not replaced (see Supervisor.run).
MIN_UPTIME = 3.0


def bind_sockets(host: str, port: int, count: int, backlog: int = 2048) -> list[socket.socket]:
    """``count`` listening sockets on one address (port 0: the first one's port for all)."""
    family, kind, proto, _, _ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                   flags=socket.AI_PASSIVE)[0]
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            # NOTE: accepted connections inherit TCP_NODELAY from the listening socket (Linux).
            # Without it every response (uvicorn writes headers and body separately) waited
            # ~40 ms for the client's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(backlog)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _run_worker(config: uvicorn.Config, sock: socket.socket) -> None:
    """A worker's whole life: uvicorn serving the app on ``sock`` alone."""
    config.configure_logging()
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class _Slot:
    sock: socket.socket
    process: BaseProcess | None = None
    started: float = 0.0


class Supervisor:
    """Starts one worker per socket, keeps them running, stops them together."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.slots = [_Slot(sock) for sock in sockets]
        self.stopping = threading.Event()
        self._context = multiprocessing.get_context("spawn")

    def _start(self, slot: _Slot) -> None:
        slot.process = self._context.Process(target=_run_worker, args=(self.config, slot.sock),
                                             name="magna-api-worker")
        slot.process.start()
        slot.started = time.monotonic()
        LOG.info("API worker %s started", slot.process.pid)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> None:
        """Until SIGINT or SIGTERM, or until a worker fails as it starts (SystemExit).

        A worker that fails within MIN_UPTIME of its start (its application could not be
        imported or its lifespan failed: a bad configuration, an unreachable database) is not
        replaced: the next one would fail the same way, and the service would spin.
        """
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for slot in self.slots:
                self._start(slot)
            while not self.stopping.is_set():
                self._replace_dead(timeout=0.5)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _replace_dead(self, timeout: float) -> None:
        sentinels = {slot.process.sentinel: slot for slot in self.slots if slot.process}
        for ready in multiprocessing.connection.wait(list(sentinels), timeout):
            slot = sentinels[ready]  # type: ignore[index]
            assert slot.process is not None
            slot.process.join()
            code = slot.process.exitcode
            if self.stopping.is_set():
                return
            if code == STARTUP_FAILURE or (code and time.monotonic() - slot.started < MIN_UPTIME):
                raise SystemExit(f"API worker {slot.process.pid} failed as it started (exit code "
                                 f"{code}); see its log above")
            LOG.warning("API worker %s exited (code %s); starting another", slot.process.pid,
                        code)
            self._start(slot)

    def stop(self) -> None:
        """SIGTERM every worker (uvicorn finishes its requests), SIGKILL what is left."""
        self.stopping.set()
        running = [slot.process for slot in self.slots if slot.process and slot.process.is_alive()]
        for process in running:
            process.terminate()
        for process in running:
            process.join(STOP_GRACE)
            if process.is_alive():
                LOG.warning("API worker %s did not stop in %.0f s; killing it", process.pid,
                            STOP_GRACE)
                process.kill()
                process.join()
        for slot in self.slots:
            slot.sock.close()


def serve(config: uvicorn.Config, workers: int) -> None:
    """Run ``workers`` API processes on ``config``'s address until told to stop."""
    sockets = bind_sockets(config.host, config.port, workers, backlog=config.backlog)
    LOG.info("API listening on %s:%s with %d worker processes", config.host,
             sockets[0].getsockname()[1], workers)
    Supervisor(config, sockets).run()
