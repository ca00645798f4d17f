"""Clusters (legacy: bays): create, list, show, update, resize, upgrade, delete, events.

``--wait`` on create, update, resize, upgrade and delete follows the operation (see
``cli/progress.py``). The ``bay-*`` names use ``/v1/bays`` (body keys ``baymodel_id``,
``bay_create_timeout``) and the ``bay:*`` policy rules; options take both spellings
(``--cluster-template``/``--baymodel``, ``--keypair``/``--keypair-id``, ``--flavor``/
``--flavor-id``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from magna.cli import base, parsing
from magna.client.models import Cluster, Manager

LIST_COLUMNS = ("uuid", "name", "keypair", "node_count", "master_count", "status",
                "health_status")
BAY_COLUMNS = ("uuid", "name", "node_count", "master_count", "status")
STRINGS = {
    ("--keypair", "--keypair-id"): "keypair",
    ("--flavor", "--flavor-id"): "flavor_id",
    ("--master-flavor", "--master-flavor-id"): "master_flavor_id",
    ("--discovery-url",): "discovery_url",
    ("--fixed-network",): "fixed_network",
    ("--fixed-subnet",): "fixed_subnet",
}
NUMBERS = ("node_count", "master_count", "docker_volume_size")


class ClusterCommand(base.ClientCommand):
    legacy = False

    @property
    def kind(self) -> str:
        return "bay" if self.legacy else "cluster"

    def manager(self) -> Manager[Cluster]:
        return self.client.bays if self.legacy else self.client.clusters


class Create(ClusterCommand, base.Action):
    """Create a cluster from a cluster template."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("positional_name", nargs="?", metavar="NAME")
        parser.add_argument("--name")
        parser.add_argument("--cluster-template", "--baymodel", dest="template", required=True,
                            help="Name or UUID of the cluster template (baymodel).")
        for number in NUMBERS:
            parser.add_argument("--" + number.replace("_", "-"), dest=number, type=int)
        for options, key in STRINGS.items():
            parser.add_argument(*options, dest=key)
        parser.add_argument("--timeout", "--create-timeout", "--bay-create-timeout",
                            dest="timeout", type=int, help="Minutes before CREATE_FAILED.")
        parser.add_argument("--labels", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--merge-labels", action="store_true", default=None)
        base.add_wait(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        body = {key: getattr(parsed_args, key) for key in [*NUMBERS, *STRINGS.values(),
                                                           "merge_labels"]
                if getattr(parsed_args, key) is not None}
        body["name"] = parsed_args.name or parsed_args.positional_name
        body["baymodel_id" if self.legacy else "cluster_template_id"] = parsed_args.template
        if parsed_args.timeout is not None:
            body["bay_create_timeout" if self.legacy else "create_timeout"] = parsed_args.timeout
        if parsed_args.labels:
            body["labels"] = parsing.labels(parsed_args.labels)
        uuid = self.manager().create(**body).uuid
        self.say(f"Request to create {self.kind} {uuid} has been accepted.")
        return self.wait(parsed_args, uuid, label=body["name"])


class List(ClusterCommand, base.List):
    """List clusters."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.rows(self.manager().list(), BAY_COLUMNS if self.legacy else LIST_COLUMNS)


class Show(ClusterCommand, base.Show):
    """Show a cluster."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("cluster", metavar="CLUSTER", help="Name or UUID.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.record(self.manager().get(parsed_args.cluster))


class Update(ClusterCommand, base.Action):
    """Change a cluster: OP (add, replace, remove) and KEY=VALUE attributes."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("cluster", metavar="CLUSTER", help="Name or UUID.")
        parser.add_argument("op", choices=parsing.OPS)
        parser.add_argument("attributes", nargs="+", metavar="KEY=VALUE")
        parser.add_argument("--rollback", action="store_true",
                            help="Roll back the change if it fails.")
        base.add_wait(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        patch = parsing.patch(parsed_args.op, parsed_args.attributes)
        self.manager().update(parsed_args.cluster, patch, rollback=parsed_args.rollback)
        self.say(f"Request to update {self.kind} {parsed_args.cluster} has been accepted.")
        return self.wait(parsed_args, parsed_args.cluster)


class Resize(ClusterCommand, base.Action):
    """Resize a cluster's worker nodegroup (or --nodegroup)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("cluster", metavar="CLUSTER")
        parser.add_argument("node_count", type=int, metavar="NODE_COUNT")
        parser.add_argument("--nodes-to-remove", action="append", default=[], metavar="NODE",
                            help="A node to remove when shrinking (repeatable).")
        parser.add_argument("--nodegroup")
        base.add_wait(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        self.client.clusters.resize(parsed_args.cluster, parsed_args.node_count,
                                    nodes_to_remove=parsed_args.nodes_to_remove,
                                    nodegroup=parsed_args.nodegroup)
        self.say(f"Request to resize cluster {parsed_args.cluster} has been accepted.")
        return self.wait(parsed_args, parsed_args.cluster)


class Upgrade(ClusterCommand, base.Action):
    """Upgrade a cluster to another cluster template."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("cluster", metavar="CLUSTER")
        parser.add_argument("template", metavar="CLUSTER_TEMPLATE")
        parser.add_argument("--max-batch-size", type=int, default=1)
        parser.add_argument("--nodegroup")
        base.add_wait(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        self.client.clusters.upgrade(parsed_args.cluster, parsed_args.template,
                                     max_batch_size=parsed_args.max_batch_size,
                                     nodegroup=parsed_args.nodegroup)
        self.say(f"Request to upgrade cluster {parsed_args.cluster} has been accepted.")
        return self.wait(parsed_args, parsed_args.cluster)


class Delete(ClusterCommand, base.Action):
    """Delete clusters."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("clusters", nargs="+", metavar="CLUSTER")
        base.add_wait(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        for ident in parsed_args.clusters:
            self.manager().delete(ident)
            self.say(f"Request to delete {self.kind} {ident} has been accepted.")
        codes = [self.wait(parsed_args, ident, gone=True) for ident in parsed_args.clusters]
        return max(codes)


class Events(ClusterCommand, base.List):
    """List what happened to a cluster (Magna's extension)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("cluster", metavar="CLUSTER")
        parser.add_argument("--limit", type=int)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        events = self.client.clusters.events(parsed_args.cluster, parsed_args.limit)
        columns = ("created_at", "level", "reason", "message")
        return columns, [tuple(e.get(c) for c in columns) for e in events]


class BayCreate(Create):
    """Create a bay from a baymodel."""

    legacy = True


class BayList(List):
    """List bays."""

    legacy = True


class BayShow(Show):
    """Show a bay."""

    legacy = True


class BayUpdate(Update):
    """Change a bay: OP (add, replace, remove) and KEY=VALUE attributes."""

    legacy = True


class BayDelete(Delete):
    """Delete bays."""

    legacy = True
