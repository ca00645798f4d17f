"""What every ``magna`` client command shares: the SDK client, error reporting, output shaping.

A command only parses, calls the SDK and prints. A ``ClientError`` is printed as ``ERROR: <the
server's message>`` on stderr and becomes the command's exit code (never a traceback, unless
``--debug``). ``rows`` and ``record`` shape resources for cliff's formatters, which give every
list and show command ``-f table|json|yaml|value|csv`` and ``-c COLUMN``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import Any

from cliff.command import Command
from cliff.lister import Lister
from cliff.show import ShowOne

from magna.cli import progress
from magna.client import Client, ClientError
from magna.client.models import Resource

HIDDEN = ("links",)


class UsageError(ClientError):
    """The command line asks for something a command cannot do (checked after parsing)."""

    exit_code = 2

WAIT_TIMEOUT = 1800.0


class ClientCommand:
    """Mixin (listed first) for cliff commands that talk to the API."""

    app: Any

    @property
    def client(self) -> Client:
        client: Client = self.app.client
        return client

    def run(self, parsed_args: argparse.Namespace) -> int:
        try:
            code: int = super().run(parsed_args)  # type: ignore[misc]
        except ClientError as exc:
            if self.app.options.debug:
                raise
            self.app.stderr.write(f"ERROR: {exc.message}\n")
            return exc.exit_code
        return code

    def say(self, text: str) -> None:
        self.app.stdout.write(text + "\n")

    def wait(self, parsed_args: argparse.Namespace, ident: str, *, gone: bool = False,
             label: str | None = None) -> int:
        """Follow the operation when ``--wait`` was given; the exit code."""
        if not getattr(parsed_args, "wait", False):
            return 0
        return progress.wait(self.client, ident, gone=gone, timeout=parsed_args.wait_timeout,
                             out=self.app.stderr, interval=self.app.poll_interval,
                             label=label or ident)


class Action(ClientCommand, Command):
    pass


class List(ClientCommand, Lister):
    pass


class Show(ClientCommand, ShowOne):
    pass


def add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true",
                        help="Follow the operation until it completes or fails; the exit code "
                             "tells which.")
    parser.add_argument("--wait-timeout", type=float, default=WAIT_TIMEOUT, metavar="SECONDS",
                        help=f"Give up waiting after this long (default {WAIT_TIMEOUT:.0f}).")


def rows(items: Iterable[Resource], columns: Sequence[str]) -> tuple[Sequence[str], list[Any]]:
    return columns, [tuple(cell(item.attrs.get(c)) for c in columns) for item in items]


def record(item: Resource | dict[str, Any]) -> tuple[Sequence[str], Sequence[Any]]:
    attrs = item.attrs if isinstance(item, Resource) else item
    names = sorted(k for k in attrs if k not in HIDDEN)
    return names, [attrs[k] for k in names]


def cell(value: Any) -> Any:
    """Lists print comma-separated in tables, as the ``openstack`` client does."""
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return ", ".join(str(v) for v in value)
    return value
