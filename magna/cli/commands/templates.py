"""Cluster templates (legacy: baymodels): ``cluster template create|list|show|update|delete``.

Each command accepts both spellings of its options: the ``openstack coe`` ones (``--image``,
``--flavor``) and the original ``magnum`` ones (``--image-id``, ``--flavor-id``). The
``baymodel-*`` names use ``/v1/baymodels`` and its ``baymodel:*`` policy rules.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from magna.cli import base, parsing
from magna.client.models import ClusterTemplate, Manager

LIST_COLUMNS = ("uuid", "name", "coe", "image_id", "public")
# option strings -> body key; the first string names the argparse destination
STRINGS = {
    ("--image", "--image-id"): "image_id",
    ("--keypair", "--keypair-id"): "keypair_id",
    ("--external-network", "--external-network-id"): "external_network_id",
    ("--fixed-network",): "fixed_network",
    ("--fixed-subnet",): "fixed_subnet",
    ("--network-driver",): "network_driver",
    ("--volume-driver",): "volume_driver",
    ("--dns-nameserver",): "dns_nameserver",
    ("--flavor", "--flavor-id"): "flavor_id",
    ("--master-flavor", "--master-flavor-id"): "master_flavor_id",
    ("--docker-storage-driver",): "docker_storage_driver",
    ("--http-proxy",): "http_proxy",
    ("--https-proxy",): "https_proxy",
    ("--no-proxy",): "no_proxy",
    ("--server-type",): "server_type",
}
FLAGS = {"--tls-disabled": "tls_disabled", "--public": "public",
         "--registry-enabled": "registry_enabled", "--master-lb-enabled": "master_lb_enabled",
         "--hidden": "hidden"}


class TemplateCommand(base.ClientCommand):
    legacy = False

    def manager(self) -> Manager[ClusterTemplate]:
        return self.client.baymodels if self.legacy else self.client.cluster_templates


class Create(TemplateCommand, base.Show):
    """Create a cluster template."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("positional_name", nargs="?", metavar="NAME")
        parser.add_argument("--name")
        parser.add_argument("--coe", required=True, help="swarm-mode or kubernetes.")
        for options, key in STRINGS.items():
            parser.add_argument(*options, dest=key)
        parser.add_argument("--docker-volume-size", type=int)
        parser.add_argument("--labels", action="append", default=[], metavar="KEY=VALUE")
        for option, key in FLAGS.items():
            parser.add_argument(option, dest=key, action="store_true", default=None)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        body = {key: getattr(parsed_args, key) for key in [*STRINGS.values(), *FLAGS.values()]
                if getattr(parsed_args, key) is not None}
        body.update(name=parsed_args.name or parsed_args.positional_name, coe=parsed_args.coe)
        if parsed_args.docker_volume_size is not None:
            body["docker_volume_size"] = parsed_args.docker_volume_size
        if parsed_args.labels:
            body["labels"] = parsing.labels(parsed_args.labels)
        return base.record(self.manager().create(**body))


class List(TemplateCommand, base.List):
    """List cluster templates."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.rows(self.manager().list(), LIST_COLUMNS)


class Show(TemplateCommand, base.Show):
    """Show a cluster template."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("template", metavar="TEMPLATE", help="Name or UUID.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.record(self.manager().get(parsed_args.template))


class Update(TemplateCommand, base.Show):
    """Change a cluster template: OP (add, replace, remove) and KEY=VALUE attributes."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("template", metavar="TEMPLATE", help="Name or UUID.")
        parser.add_argument("op", choices=parsing.OPS)
        parser.add_argument("attributes", nargs="+", metavar="KEY=VALUE")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        patch = parsing.patch(parsed_args.op, parsed_args.attributes)
        return base.record(self.manager().update(parsed_args.template, patch))


class Delete(TemplateCommand, base.Action):
    """Delete cluster templates."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("templates", nargs="+", metavar="TEMPLATE")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        kind = "baymodel" if self.legacy else "cluster template"
        for ident in parsed_args.templates:
            self.manager().delete(ident)
            self.say(f"Request to delete {kind} {ident} has been accepted.")
        return 0


class BaymodelCreate(Create):
    """Create a baymodel."""

    legacy = True


class BaymodelList(List):
    """List baymodels."""

    legacy = True


class BaymodelShow(Show):
    """Show a baymodel."""

    legacy = True


class BaymodelUpdate(Update):
    """Change a baymodel: OP (add, replace, remove) and KEY=VALUE attributes."""

    legacy = True


class BaymodelDelete(Delete):
    """Delete baymodels."""

    legacy = True
