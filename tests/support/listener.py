"""A stand-in for the host's own services in network tests: a TCP server on every address of the
host (as SSH or a careless daemon would listen), on a free port, stopped on exit."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def stand_in_listener() -> Iterator[int]:
    """The port of a server on 0.0.0.0 that answers each connection with a line and closes it."""
    server = socket.create_server(("0.0.0.0", 0), backlog=16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = server.accept()
                with conn:
                    conn.sendall(b"host secret\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
