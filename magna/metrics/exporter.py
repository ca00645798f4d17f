"""The metrics listener: the Prometheus text format on ``[metrics] path`` of its own address.

Why not a path of the API port: with Keystone the API port faces tenants and every path on it
asks for a token, while Prometheus scrapes without one and these series describe every project
(and the API's ``NormalizePath`` would send ``/metrics`` to ``/v1/metrics``). A listener of its
own lets the operator keep it on loopback or a management network; it is a small threaded WSGI
server in the process that owns the series, so it answers while the API workers are busy, and
``magna-conductor`` (which has no HTTP server) has one too.

Several API workers (``[api] workers``): each worker process writes its series to memory-mapped
files in a directory the parent makes before it spawns them (``multiprocess_dir``, named to the
workers by ``MULTIPROCESS_ENV``), and the parent's listener sums those files at each scrape
(the library's multi-process mode). A replaced worker's files stay, so counters never go back.
The parent's own series (its conductor's, under ``magna serve``) are read from its memory.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import socketserver
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

LOG = logging.getLogger(__name__)

#: The library reads this when a process imports it; the API workers inherit it.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    """Scrapes every few seconds would flood stderr with access lines; debug log instead."""

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("metrics: " + format, *args)


def registry_of(collectors: Iterable[Collector], *, multiprocess_dir: str | None = None
                ) -> CollectorRegistry:
    """One registry for a scrape: ``collectors`` (registries or collectors of this process),
    plus the API workers' series from ``multiprocess_dir`` when there is one."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in collectors:
        registry.register(collector)
    if multiprocess_dir is not None:
        MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    return registry


def _only(path: str, app: Callable[..., Any]) -> Callable[..., Any]:
    """The metrics app on ``path``; 404 on any other path."""
    def routed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO", "") != path:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [f"Not found: metrics are at {path}\n".encode()]
        return app(environ, start_response)
    return routed


class Exporter:
    """A running listener; ``close()`` stops it."""

    def __init__(self, registry: CollectorRegistry, *, host: str, port: int, path: str) -> None:
        app = _only(path, make_wsgi_app(registry))
        server_class = _ThreadingServer6 if ":" in host else _ThreadingServer
        self._server = make_server(host, port, app, server_class, handler_class=_QuietHandler)
        self.port: int = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="metrics-listener", daemon=True)
        self._thread.start()
        LOG.info("Prometheus metrics on http://%s:%s%s", host, self.port, path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def start(registry: CollectorRegistry, *, host: str, port: int, path: str,
          option: str) -> Exporter:
    """The listener, or SystemExit naming ``option`` when the port is taken."""
    try:
        return Exporter(registry, host=host, port=port, path=path)
    except OSError as exc:
        raise _cannot_bind(host, port, option, exc) from None


def check_free(*, host: str, port: int, option: str) -> None:
    """SystemExit naming ``option`` if ``host:port`` cannot be bound now: a process checks
    before it migrates the database and starts its drivers' work, not after."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _cannot_bind(host, port, option, exc) from None


def _cannot_bind(host: str, port: int, option: str, exc: OSError) -> SystemExit:
    return SystemExit(f"The metrics listener cannot bind {host}:{port} ({exc.strerror}). "
                      f"Choose another port in [metrics] {option}, or unset it to serve no "
                      "metrics.")


@contextmanager
def multiprocess_dir(parent: str) -> Iterator[str]:
    """A fresh directory for the API workers' series, named in the environment the workers
    inherit, removed when the block ends (a new start must not add an old run's counts)."""
    path = tempfile.mkdtemp(prefix="metrics-", dir=parent)
    os.environ[MULTIPROCESS_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(path, ignore_errors=True)
