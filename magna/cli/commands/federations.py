"""Federations (``/v1/federations``): create, list, show, update (join/unjoin), delete.

``federation create NAME --hostcluster C --dns-zone ZONE [--member C …] [--property K=V …]``;
``federation update FED add member_ids=C`` joins a cluster, ``remove member_ids=C`` unjoins
it (Magnum's one-cluster PATCH); ``add properties/K=V`` sets a property.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from magna.cli import base, parsing

LIST_COLUMNS = ("uuid", "name", "hostcluster_id", "member_ids", "status")


class Create(base.Action):
    """Create a federation of a host cluster and member clusters."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", nargs="?", metavar="NAME")
        parser.add_argument("--hostcluster", required=True, metavar="CLUSTER",
                            help="Name or UUID of the host cluster.")
        parser.add_argument("--member", action="append", default=[], metavar="CLUSTER",
                            help="A member cluster, name or UUID (repeatable).")
        parser.add_argument("--dns-zone", required=True, metavar="ZONE",
                            help="The federation's DNS zone (e.g. example.com.).")
        parser.add_argument("--property", action="append", default=[], metavar="KEY=VALUE",
                            help="Another property (repeatable).")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        properties = parsing.labels(parsed_args.property) if parsed_args.property else {}
        body: dict[str, Any] = {
            "name": parsed_args.name, "hostcluster_id": parsed_args.hostcluster,
            "member_ids": parsed_args.member,
            "properties": {**properties, "dns-zone": parsed_args.dns_zone}}
        uuid = self.client.federations.create(**body).uuid
        self.say(f"Request to create federation {uuid} has been accepted.")
        return 0


class List(base.List):
    """List federations."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.rows(self.client.federations.list(), LIST_COLUMNS)


class Show(base.Show):
    """Show a federation."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("federation", metavar="FEDERATION", help="Name or UUID.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.record(self.client.federations.get(parsed_args.federation))


class Update(base.Action):
    """Change a federation: OP (add, replace, remove) and KEY=VALUE attributes
    (``add member_ids=CLUSTER`` joins, ``remove member_ids=CLUSTER`` unjoins)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("federation", metavar="FEDERATION", help="Name or UUID.")
        parser.add_argument("op", choices=parsing.OPS)
        parser.add_argument("attributes", nargs="+", metavar="KEY=VALUE")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        patch = [membership_op(parsed_args.op, word) for word in parsed_args.attributes]
        self.client.federations.update(parsed_args.federation, patch)
        self.say(f"Request to update federation {parsed_args.federation} has been accepted.")
        return 0


def membership_op(op: str, word: str) -> dict[str, Any]:
    """One PATCH operation from ``KEY=VALUE``: ``add``/``remove member_ids=C`` carry the
    cluster, as typed, as their value (Magnum's join and unjoin); anything else is parsed as
    for every ``*-update`` (``cli/parsing.py``)."""
    key, sep, value = word.partition("=")
    if key.strip("/") == "member_ids" and sep and op in ("add", "remove"):
        return {"op": op, "path": "/member_ids", "value": value}
    return parsing.patch(op, [word])[0]


class Delete(base.Action):
    """Delete federations."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("federations", nargs="+", metavar="FEDERATION")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        for ident in parsed_args.federations:
            self.client.federations.delete(ident)
            self.say(f"Federation {ident} deleted.")
        return 0
