"""Nodegroups of a cluster: ``nodegroup create|list|show|update|delete CLUSTER …``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from magna.cli import base, parsing

LIST_COLUMNS = ("uuid", "name", "flavor_id", "image_id", "node_count", "status", "role")


def _cluster_and_group(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("cluster", metavar="CLUSTER", help="Name or UUID of the cluster.")
    parser.add_argument("nodegroup", metavar="NODEGROUP", help="Name or UUID.")
    return parser


class Create(base.Show):
    """Add a nodegroup to a cluster."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = _cluster_and_group(super().get_parser(prog_name))
        parser.add_argument("--node-count", type=int, default=1)
        parser.add_argument("--min-nodes", dest="min_node_count", type=int)
        parser.add_argument("--max-nodes", dest="max_node_count", type=int)
        parser.add_argument("--role", default="worker")
        parser.add_argument("--flavor", "--flavor-id", dest="flavor_id")
        parser.add_argument("--image", "--image-id", dest="image_id")
        parser.add_argument("--docker-volume-size", type=int)
        parser.add_argument("--labels", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--merge-labels", action="store_true", default=None)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        keys = ("node_count", "min_node_count", "max_node_count", "role", "flavor_id",
                "image_id", "docker_volume_size", "merge_labels")
        body = {k: getattr(parsed_args, k) for k in keys if getattr(parsed_args, k) is not None}
        body["name"] = parsed_args.nodegroup
        if parsed_args.labels:
            body["labels"] = parsing.labels(parsed_args.labels)
        created = self.client.nodegroups(parsed_args.cluster).create(**body)
        return base.record(created)


class List(base.List):
    """List a cluster's nodegroups."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("cluster", metavar="CLUSTER")
        parser.add_argument("--role")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        groups = self.client.nodegroups(parsed_args.cluster).list(role=parsed_args.role)
        return base.rows(groups, LIST_COLUMNS)


class Show(base.Show):
    """Show a nodegroup."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        return _cluster_and_group(super().get_parser(prog_name))

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        manager = self.client.nodegroups(parsed_args.cluster)
        return base.record(manager.get(parsed_args.nodegroup))


class Update(base.Action):
    """Change a nodegroup: OP (add, replace, remove) and KEY=VALUE attributes."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = _cluster_and_group(super().get_parser(prog_name))
        parser.add_argument("op", choices=parsing.OPS)
        parser.add_argument("attributes", nargs="+", metavar="KEY=VALUE")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        patch = parsing.patch(parsed_args.op, parsed_args.attributes)
        self.client.nodegroups(parsed_args.cluster).update(parsed_args.nodegroup, patch)
        self.say(f"Request to update nodegroup {parsed_args.nodegroup} has been accepted.")
        return 0


class Delete(base.Action):
    """Delete a nodegroup."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        return _cluster_and_group(super().get_parser(prog_name))

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        self.client.nodegroups(parsed_args.cluster).delete(parsed_args.nodegroup)
        self.say(f"Request to delete nodegroup {parsed_args.nodegroup} has been accepted.")
        return 0
