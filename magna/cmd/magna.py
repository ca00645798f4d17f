"""``magna``: the client commands (``magna.cli``) plus running and administering the service.

``magna serve`` runs the API and a conductor in one process; ``magna db upgrade`` applies
migrations; ``magna kubernetes-build`` builds this host's Kubernetes binaries
(``kubernetes_build.py``). They read ``--config-file`` (a global option, given before the
command) and import the server lazily so the client commands start fast and work without the
server's code paths.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cliff.command import Command

from magna.cli import app


class Serve(Command):
    """Run the API and a conductor in one process, on the embedded default database."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("--state-dir", help="Where the database and keys live.")
        parser.add_argument("--host", help="Address to bind (loopback only with noauth).")
        parser.add_argument("--port", type=int, help="Port to listen on (default 9511).")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        from magna.cmd import api, compose, logs

        config_files = self.app.options.config_file
        conf = compose.load_config(config_files)
        logs.configure(conf, debug=self.app.options.debug)
        if parsed_args.state_dir:
            conf.set_override("state_dir", parsed_args.state_dir)
        if parsed_args.port:
            conf.set_override("port", parsed_args.port, group="api")
        if parsed_args.host:
            conf.set_override("host", parsed_args.host, group="api")
        api.serve_api(conf, config_files, with_conductor=True)
        return 0


class DbUpgrade(Command):
    """Apply pending database migrations."""

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        from magna.cmd import compose, logs
        from magna.db import migrate

        conf = compose.load_config(self.app.options.config_file)
        logs.configure(conf, debug=self.app.options.debug)
        url = compose.prepare_database(conf)
        migrate.upgrade(url)
        self.app.stdout.write(f"Database is at revision {', '.join(migrate.current_heads())}.\n")
        return 0


def main(argv: Sequence[str] | None = None) -> None:
    from magna.cmd.kubernetes_build import COMMAND, KubernetesBuild, own_version_option

    words = own_version_option(sys.argv[1:] if argv is None else argv)
    sys.exit(app.main(words, {"serve": Serve, "db upgrade": DbUpgrade,
                              COMMAND: KubernetesBuild}))
