"""``magna-api``: the REST API server alone (uvicorn; ``[api] workers`` processes)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import uvicorn
from oslo_config import cfg
from starlette.types import ASGIApp

from magna import conf as magna_conf
from magna.services import Services

CONFIG_ENV = "MAGNA_CONFIG_FILES"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def load_config(config_files: Sequence[str]) -> cfg.ConfigOpts:
    files = list(config_files) or [f for f in os.environ.get(CONFIG_ENV, "").split(os.pathsep)
                                   if f]
    return magna_conf.load([], files or None)


def app_factory() -> ASGIApp:
    """Used by uvicorn worker processes, which re-read the configuration named in the env."""
    from magna.api.app import create_app

    return create_app(load_config([]))


def check_bind(conf: cfg.ConfigOpts) -> None:
    if conf.api.auth_strategy == "noauth" and conf.api.host not in LOOPBACK:
        raise SystemExit(f"Refusing to bind {conf.api.host} with auth_strategy=noauth: anyone "
                         "could act as an administrator. Use 127.0.0.1 or configure keystone.")


def serve_api(conf: cfg.ConfigOpts, config_files: Sequence[str],
              with_conductor: bool = False) -> None:
    """Migrate once, then run uvicorn (workers re-create the app from the same files).

    ``with_conductor`` runs a conductor in this process (``magna serve``), nudged directly.
    """
    from magna.api.app import build_services

    check_bind(conf)
    os.environ[CONFIG_ENV] = os.pathsep.join(os.path.abspath(f) for f in config_files)
    services = build_services(conf)
    if with_conductor:
        from magna.conductor.service import Conductor

        conductor = Conductor(services)
        if not conf.conductor.transport_url:
            services.nudge = conductor.nudged
        conductor.start()
        try:
            _run_uvicorn(conf, services)
        finally:
            conductor.stop()
        return
    _run_uvicorn(conf, services)


def _run_uvicorn(conf: cfg.ConfigOpts, services: Services) -> None:
    from magna.api.app import create_app
    from magna.cmd import workers

    if conf.api.workers > 1:
        workers.serve(uvicorn.Config("magna.cmd.api:app_factory", factory=True,
                                     host=conf.api.host, port=conf.api.port,
                                     log_level="info"), conf.api.workers)
        return
    uvicorn.run(create_app(conf, services), host=conf.api.host, port=conf.api.port,
                log_level="info")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="magna-api", description=__doc__)
    parser.add_argument("--config-file", action="append", default=[],
                        help="magna.conf to read (repeatable).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    serve_api(load_config(args.config_file), args.config_file)


if __name__ == "__main__":
    main()
