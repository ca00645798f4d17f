"""``magna``: run the service (``serve``) and administer it (``db upgrade``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from magna.cmd import api


def _serve(args: argparse.Namespace) -> None:
    conf = api.load_config(args.config_file)
    if args.state_dir:
        conf.set_override("state_dir", args.state_dir)
    if args.port:
        conf.set_override("port", args.port, group="api")
    if args.host:
        conf.set_override("host", args.host, group="api")
    api.serve_api(conf, args.config_file, with_conductor=True)


def _db_upgrade(args: argparse.Namespace) -> None:
    from magna.api.app import database_url
    from magna.db import migrate

    conf = api.load_config(args.config_file)
    url = database_url(conf)
    migrate.upgrade(url)
    print(f"Database is at revision {', '.join(migrate.current_heads())}.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="magna", description="Magna: Magnum, in Python.")
    parser.add_argument("--config-file", action="append", default=[],
                        help="magna.conf to read (repeatable).")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="Run the API and a conductor in one process, on the "
                                         "embedded default database.")
    serve.add_argument("--state-dir", help="Where the database and keys live.")
    serve.add_argument("--host", help="Address to bind (loopback only with noauth).")
    serve.add_argument("--port", type=int, help="Port to listen on (default 9511).")
    serve.set_defaults(func=_serve)
    db = sub.add_parser("db", help="Database administration.")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="Apply pending migrations.")
    upgrade.set_defaults(func=_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.func(args)
