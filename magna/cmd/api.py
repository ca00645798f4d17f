"""``magna-api``: the REST API server alone (uvicorn; ``[api] workers`` processes)."""

from __future__ import annotations

import argparse
import errno
import os
import socket
from collections.abc import Sequence
from contextlib import ExitStack

import uvicorn
from oslo_config import cfg
from starlette.types import ASGIApp

from magna.api import loopback
from magna.api.app import create_app
from magna.cmd import compose, logs
from magna.cmd import metrics as metrics_wiring
from magna.conductor.service import Conductor
from magna.metrics import exporter
from magna.services import Services

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def build_app(conf: cfg.ConfigOpts, services: Services | None = None) -> ASGIApp:
    """The API application on ``services``, or on services composed from ``conf``."""
    return create_app(conf, services or compose.build_services(conf))


def served_app(conf: cfg.ConfigOpts, services: Services | None = None) -> ASGIApp:
    """``build_app`` as a listening server runs it: with noauth it answers loopback host
    names only (``magna.api.loopback``), where in-process clients need no such check."""
    app = build_app(conf, services)
    if conf.api.auth_strategy != "noauth":
        return app
    return loopback.LoopbackHostOnly(
        app, also=loopback.configured_names(conf.api.public_endpoint))


def app_factory() -> ASGIApp:
    """Used by uvicorn worker processes, which re-read the configuration named in the env."""
    return served_app(compose.load_config([]))


def check_bind(conf: cfg.ConfigOpts) -> None:
    if conf.api.auth_strategy == "noauth" and conf.api.host not in LOOPBACK:
        raise SystemExit(f"Refusing to bind {conf.api.host} with auth_strategy=noauth: anyone "
                         "could act as an administrator. Use 127.0.0.1 or configure keystone.")


def check_port_free(conf: cfg.ConfigOpts) -> None:
    """Fail with what to do when ``[api] port`` is taken, before anything else starts (uvicorn
    alone says "address already in use" after the conductor has started, and no more)."""
    family = socket.AF_INET6 if ":" in conf.api.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((conf.api.host, conf.api.port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise SystemExit(
                f"Port {conf.api.port} on {conf.api.host} is taken (another magna serve? "
                "`magna status` asks whoever answers there). Stop it, or listen elsewhere: "
                "`magna serve --port 9512` (or [api] port in magna.conf), and point the "
                "clients there: MAGNA_URL=http://127.0.0.1:9512 for magna, "
                "OS_ENDPOINT=http://127.0.0.1:9512/v1 for openstack.") from None


def serve_api(conf: cfg.ConfigOpts, config_files: Sequence[str],
              with_conductor: bool = False) -> None:
    """Migrate once, then run uvicorn (workers re-create the app from the same files).

    ``with_conductor`` runs a conductor in this process (``magna serve``).
    """
    check_bind(conf)
    check_port_free(conf)
    metrics_wiring.check(conf, option="port")
    os.environ[compose.CONFIG_ENV] = os.pathsep.join(os.path.abspath(f) for f in config_files)
    conductor: Conductor | None = None
    if with_conductor:
        services, conductor = compose.build_serve(conf)
    else:
        services = compose.build_services(conf)
    with ExitStack() as stack:
        _start_metrics(stack, conf, services, conductor)
        if conductor is not None:
            conductor.start()
            stack.callback(conductor.stop)
        _run_uvicorn(conf, services)


def _start_metrics(stack: ExitStack, conf: cfg.ConfigOpts, services: Services,
                   conductor: Conductor | None) -> None:
    """The metrics listener (if ``[metrics] port`` is set) until ``stack`` closes; with several
    workers, the directory they write their series to (``magna.metrics.exporter``)."""
    directory = None
    if conf.metrics.port is not None and conf.api.workers > 1:
        directory = stack.enter_context(exporter.multiprocess_dir(conf.state_dir))
    stack.enter_context(metrics_wiring.api_exporter(conf, services, conductor=conductor,
                                                    multiprocess_dir=directory))


def _run_uvicorn(conf: cfg.ConfigOpts, services: Services) -> None:
    from magna.cmd import workers

    # NOTE: uvicorn configures its own loggers unless told not to (None): the operator's
    # logging file, when there is one, has done it already.
    log_config = None if conf.log_config_file else uvicorn.config.LOGGING_CONFIG
    if conf.api.workers > 1:
        workers.serve(uvicorn.Config("magna.cmd.api:app_factory", factory=True,
                                     host=conf.api.host, port=conf.api.port,
                                     log_level="info", log_config=log_config),
                      conf.api.workers)
        return
    uvicorn.run(served_app(conf, services), host=conf.api.host, port=conf.api.port,
                log_level="info", log_config=log_config)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="magna-api", description=__doc__)
    parser.add_argument("--config-file", action="append", default=[],
                        help="magna.conf to read (repeatable).")
    parser.add_argument("--debug", action="store_true",
                        help="Log at DEBUG, Alembic's migration lines included.")
    args = parser.parse_args(argv)
    conf = compose.load_config(args.config_file)
    logs.configure(conf, debug=args.debug)
    serve_api(conf, args.config_file)


if __name__ == "__main__":
    main()
