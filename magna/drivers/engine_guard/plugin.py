"""Magna's Docker authorization plugin ``magna-seal``: one host-wide process serving every sealed
node's dockerd, one unix socket per node.

    python -m magna.drivers.engine_guard.plugin --root <run_dir>/seal

Layout under the root (the driver owns the directories, ``service`` makes and removes them)::

    <root>/plugin.pid            this process, written once it listens
    <root>/plugin.sock           the probe socket: the driver's "is the plugin up?"
    <root>/<node id>/authz.sock  one node's socket; the directory is bind-mounted at the node's
                                 /run/magna-seal, where its plugin spec points

Every 0.1 s the root is rescanned: a new node directory gets a listener (no restart of the plugin
or of any engine), a removed one has its listener and connections closed, a socket file that went
missing is bound again. The socket tells the nodes apart; the node id goes into each refusal's
log line with the request's ``User`` (the TLS client's CN).

The protocol is Docker's plugin protocol v1 over HTTP/1.1 (keep-alive, Content-Length bodies),
parsed with h11: ``/Plugin.Activate`` says ``authz``, ``/AuthZPlugin.AuthZReq`` asks
``policy.decide``, ``/AuthZPlugin.AuthZRes`` always allows (the reply is not filtered).

NOTE: dockerd fails closed: with this process down every API call of a sealed engine fails and a
sealed engine does not start, so the driver starts the plugin before any engine. No FastAPI here:
the process stays at a few MiB for all nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import h11

from magna.drivers.engine_guard import policy

LOG = logging.getLogger("magna.seal")
CONTENT_TYPE = "application/vnd.docker.plugins.v1+json"
SOCKET = "authz.sock"
PROBE = "plugin.sock"
PID_FILE = "plugin.pid"
# NOTE: a scan is one listing of the root; a node's build asks for its socket shortly before
# its engine starts, which then waits for the scan (0.5 s was a quarter second per create).
SCAN_SECONDS = 0.1
MAX_BODY = 8 * 1024 * 1024  # NOTE: dockerd shows bodies below 1 MiB, base64 in a JSON request
READ_SIZE = 65536


@dataclass
class Listener:
    """One node's listening socket and the connections it accepted."""

    node: str
    path: str
    server: asyncio.Server
    inode: int
    connections: set[asyncio.StreamWriter] = field(default_factory=set)

    def close(self) -> None:
        self.server.close()
        for writer in list(self.connections):
            writer.close()
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino == self.inode:
                os.unlink(self.path)


def answer(node: str, target: bytes, body: bytes) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON reply) for one plugin call of ``node``."""
    if target == b"/Plugin.Activate":
        return 200, {"Implements": ["authz"]}
    if target == b"/AuthZPlugin.AuthZRes":
        return 200, {"Allow": True}
    if target != b"/AuthZPlugin.AuthZReq":
        return 404, {"Err": f"magna-seal does not serve {target.decode(errors='replace')}"}
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        request = None
    if not isinstance(request, dict):
        return 200, {"Allow": False, "Msg": "This cluster's seal could not read the request."}
    decision = policy.decide(request)
    if not decision.allow:
        LOG.warning("refused node=%s user=%s %s %s: %s", node, request.get("User") or "-",
                    request.get("RequestMethod"), request.get("RequestUri"), decision.message)
    return 200, {"Allow": decision.allow, "Msg": decision.message}


async def _send(writer: asyncio.StreamWriter, conn: h11.Connection, status: int,
                reply: dict[str, Any]) -> None:
    data = json.dumps(reply).encode()
    headers = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(data)))]
    writer.write(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
    writer.write(conn.send(h11.Data(data=data)) or b"")
    writer.write(conn.send(h11.EndOfMessage()) or b"")
    await writer.drain()


async def _next_request(reader: asyncio.StreamReader,
                        conn: h11.Connection) -> tuple[bytes, bytes] | None:
    """(target, body) of the next request on the connection; None when the client is done."""
    target, body = b"", bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Request):
            target = event.target
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                raise h11.RemoteProtocolError("request body too large")
        elif isinstance(event, h11.EndOfMessage):
            return target, bytes(body)
        else:  # ConnectionClosed, PAUSED
            return None


async def serve_connection(node: str, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
    """Answer requests on one keep-alive connection until the client closes it."""
    conn = h11.Connection(h11.SERVER)
    try:
        while (request := await _next_request(reader, conn)) is not None:
            await _send(writer, conn, *answer(node, *request))
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                break
            conn.start_next_cycle()
    except h11.RemoteProtocolError as exc:
        LOG.info("node=%s: bad request: %s", node, exc)
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            with contextlib.suppress(h11.LocalProtocolError, OSError):
                await _send(writer, conn, 400, {"Err": str(exc)})
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


class Plugin:
    """The listeners of one root, kept in step with its node directories."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.listeners: dict[str, Listener] = {}
        self.failed: set[str] = set()

    async def start_listener(self, node: str, path: str) -> Listener:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        connections: set[asyncio.StreamWriter] = set()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.add(writer)
            try:
                await serve_connection(node, reader, writer)
            finally:
                connections.discard(writer)

        server = await asyncio.start_unix_server(handle, path=path)
        os.chmod(path, 0o600)
        return Listener(node=node, path=path, server=server, inode=os.stat(path).st_ino,
                        connections=connections)

    def _nodes(self) -> set[str]:
        try:
            with os.scandir(self.root) as entries:
                return {entry.name for entry in entries if not entry.name.startswith(".")
                        and entry.is_dir(follow_symlinks=False)}
        except FileNotFoundError:  # NOTE: the root went away; run() stops on its next turn
            return set()

    async def scan(self) -> None:
        """Serve every node directory, close what lost its directory, rebind lost sockets."""
        nodes = self._nodes()
        for node in set(self.listeners) - nodes:
            self.listeners.pop(node).close()
            LOG.info("node=%s: directory gone, listener closed", node)
        self.failed &= nodes
        for node in sorted(nodes - self.failed):
            listener = self.listeners.get(node)
            if listener is None or not _is_our_socket(listener):
                await self._listen(node, listener)

    async def _listen(self, node: str, stale: Listener | None) -> None:
        if stale is not None:
            stale.close()
        path = os.path.join(self.root, node, SOCKET)
        try:
            self.listeners[node] = await self.start_listener(node, path)
        except OSError as exc:
            self.failed.add(node)
            self.listeners.pop(node, None)
            LOG.error("node=%s: cannot listen on %s: %s", node, path, exc)
            return
        LOG.info("node=%s: serving %s", node, path)

    def close(self) -> None:
        for listener in self.listeners.values():
            listener.close()
        self.listeners.clear()


def _is_our_socket(listener: Listener) -> bool:
    try:
        found = os.stat(listener.path)
    except FileNotFoundError:
        return False
    return stat.S_ISSOCK(found.st_mode) and found.st_ino == listener.inode


async def run(root: str) -> None:
    """Serve ``root`` until SIGTERM or SIGINT (or until ``root`` is removed), then remove every
    socket and the pid file."""
    if not os.path.isdir(root):
        raise SystemExit(f"magna-seal: no directory {root} to serve")
    plugin = Plugin(root)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    probe = await plugin.start_listener("-", os.path.join(root, PROBE))
    with _pid_file(os.path.join(root, PID_FILE)):
        try:
            while not stop.is_set() and os.path.isdir(root):
                await plugin.scan()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SCAN_SECONDS)
        finally:
            plugin.close()
            probe.close()
    LOG.info("stopped")


@contextlib.contextmanager
def _pid_file(path: str) -> Iterator[None]:
    with open(path + ".tmp", "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")
    os.replace(path + ".tmp", path)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Magna's Docker authorization plugin.")
    parser.add_argument("--root", required=True, help="the directory of the node directories")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run(os.path.abspath(args.root)))


if __name__ == "__main__":
    main()
