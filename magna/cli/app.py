"""The ``magna`` command line application (cliff), for the client commands and the server's.

``MagnaApp`` adds the global options (``--magna-url``, ``--token``, ``--api-version``, and
``--config-file`` for ``serve``/``db upgrade``), builds one SDK ``Client`` lazily (so ``help``
and ``serve`` never need a server), and maps the legacy ``bash-completion`` name to cliff's
``complete``. With no arguments it prints help instead of starting cliff's interactive shell.
Exit codes: docs/cli.md.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from cliff.app import App
from cliff.command import Command
from cliff.commandmanager import CommandManager
from cliff.complete import CompleteCommand

from magna.cli.registry import COMMANDS
from magna.client import Client, ClientConfig

DESCRIPTION = ("Magna: the OpenStack Magnum API, its server and client. Every `noun verb` "
               "command below also answers to `noun-verb`, the original magnum client's "
               "spelling (cluster-create, ca-show, ...); `bash-completion` is `complete`.")


def aliases(commands: Mapping[str, type[Command]]) -> set[str]:
    """The names ``help`` leaves out: a hyphenated name whose command is also listed under
    its spaced name (``cluster-create`` beside ``cluster create``), and ``bash-completion``
    beside ``complete``. They all still work."""
    spaced = {name.replace(" ", "-"): cls for name, cls in commands.items() if " " in name}
    found = {name for name, cls in commands.items() if spaced.get(name) is cls}
    return found | {"bash-completion"}


@functools.cache
def _unlisted(cls: type[Command]) -> type[Command]:
    """``cls`` under another name, hidden from ``help``'s list (cliff's ``deprecated`` flag is
    only read there)."""
    return type(cls.__name__, (cls,), {"deprecated": True, "__doc__": cls.__doc__})


class MagnaApp(App):
    poll_interval = 1.0
    # NOTE: cliff names its logger after the program ("magna" for the installed script) and
    # configure_logging below cuts it off at ERROR; under that name it silenced every
    # magna.* logger, the server's too, in `magna serve`.
    LOG = logging.getLogger("magna.cli.app")

    def __init__(self, commands: Mapping[str, type[Command]]) -> None:
        manager = CommandManager(None)
        every: dict[str, type[Command]] = {
            **COMMANDS, **commands, "complete": CompleteCommand,
            "bash-completion": CompleteCommand}
        unlisted = aliases(every)
        for name, cls in every.items():
            manager.add_command(name, _unlisted(cls) if name in unlisted else cls)
        super().__init__(description=DESCRIPTION, version="0.1.0", command_manager=manager,
                         deferred_help=True)
        self._client: Client | None = None

    def build_option_parser(self, description: str | None, version: str | None,
                            argparse_kwargs: dict[str, Any] | None = None
                            ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().build_option_parser(description, version,
                                                                      argparse_kwargs)
        parser.add_argument("--magna-url", "--os-endpoint", dest="url", metavar="URL",
                            help="The API (default: $MAGNA_URL or http://127.0.0.1:9511).")
        parser.add_argument("--token", "--os-token", dest="token",
                            help="A token for X-Auth-Token (default: $MAGNA_TOKEN or "
                                 "$OS_AUTH_TOKEN).")
        parser.add_argument("--api-version", "--os-container-infra-api-version",
                            dest="api_version", help="The microversion to ask for (1.1-1.14).")
        parser.add_argument("--config-file", action="append", default=[],
                            help="magna.conf for `serve` and `db upgrade` (repeatable).")
        return parser

    def configure_logging(self) -> None:
        """Client commands print what matters themselves; the server configures its own.

        Only cliff's own report of an unexpected error is kept, as one plain line.
        """
        handler = logging.StreamHandler(self.stderr)
        handler.setFormatter(logging.Formatter("ERROR: %(message)s"))
        handler.setLevel(logging.ERROR)
        self.LOG.handlers = [handler]
        self.LOG.propagate = False

    @property
    def client(self) -> Client:
        if self._client is None:
            opts = self.options
            self._client = Client(ClientConfig.from_env(url=opts.url, token=opts.token,
                                                        api_version=opts.api_version))
        return self._client

    def clean_up(self, cmd: Command, result: int, err: BaseException | None) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def main(argv: Sequence[str] | None = None,
         commands: Mapping[str, type[Command]] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    code: int = MagnaApp(commands or {}).run(args or ["help"])
    return code
