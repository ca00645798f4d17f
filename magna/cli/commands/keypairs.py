"""Keypairs (Magna's ``/v1/keypairs``): what ``nova keypair-add`` did in the original guides.

``keypair create NAME --pub-key FILE`` uploads an OpenSSH public key; templates and clusters then
name it with ``--keypair``/``--keypair-id``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from magna.cli import base
from magna.client import ClientError

LIST_COLUMNS = ("name", "fingerprint")


class Create(base.Show):
    """Upload a public key under a name."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="NAME")
        parser.add_argument("--pub-key", "--public-key", dest="pub_key", required=True,
                            metavar="FILE", help="The OpenSSH public key file (e.g. "
                                                 "~/.ssh/id_ed25519.pub).")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        path = parsed_args.pub_key
        try:
            with open(path) as handle:
                public_key = handle.read()
        except OSError as exc:
            raise ClientError(f"Cannot read {path}: {exc.strerror}.") from None
        keypair = self.client.keypairs.create(name=parsed_args.name, public_key=public_key)
        return base.record(keypair)


class List(base.List):
    """List keypairs."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.rows(self.client.keypairs.list(), LIST_COLUMNS)


class Show(base.Show):
    """Show a keypair."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="NAME")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.record(self.client.keypairs.get(parsed_args.name))


class Delete(base.Action):
    """Delete keypairs."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("names", nargs="+", metavar="NAME")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        for name in parsed_args.names:
            self.client.keypairs.delete(name)
            self.say(f"Keypair {name} deleted.")
        return 0
