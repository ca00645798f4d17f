"""``magna-conductor``: a conductor as its own process (several may run against PostgreSQL).

It imports nothing of the HTTP side (``magna.cmd.compose`` builds its services).
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence

from magna.cmd import compose, logs, metrics


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="magna-conductor", description=__doc__)
    parser.add_argument("--config-file", action="append", default=[],
                        help="magna.conf to read (repeatable).")
    parser.add_argument("--debug", action="store_true",
                        help="Log at DEBUG, Alembic's migration lines included.")
    args = parser.parse_args(argv)
    conf = compose.load_config(args.config_file)
    logs.configure(conf, debug=args.debug)
    metrics.check(conf, option="conductor_port")
    conductor = compose.build_conductor(conf)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    with metrics.conductor_exporter(conf, conductor):
        conductor.start()
        stopping.wait()
        conductor.stop()


if __name__ == "__main__":
    main()
