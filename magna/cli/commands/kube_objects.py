"""Pods, replication controllers and services of a Kubernetes cluster (Magna's ``/v1/pods``,
``/v1/rcs``, ``/v1/services``), as the original ``magnum`` client had them.

``pod-create --manifest FILE --bay|--cluster C [--wait]``, ``pod-list --bay C [--namespace N]``,
``pod-show NAME --bay C``, ``pod-delete NAME… --bay C``; ``rc-*`` and ``coe-service-*`` alike,
plus ``rc-update NAME --bay C replace replicas=3`` (the original client's syntax), ``--replicas
N`` or ``--manifest FILE``, and ``coe-service-update NAME --bay C --manifest FILE``. The
manifest file is sent as written (YAML or JSON). ``--wait`` follows the object until Kubernetes
reports it usable (``client/kube_waiting.py``): a pod Running, a replication controller's
replicas ready, a service with an IP.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, ClassVar, cast

from cliff.command import Command

from magna.cli import base, progress
from magna.client.models import KubeObject, KubeObjects

COLUMNS = {
    "pods": ("name", "namespace", "images", "host", "ip", "status", "ready"),
    "rcs": ("name", "namespace", "images", "selector", "replicas", "ready_replicas"),
    "services": ("name", "namespace", "type", "ip", "ports", "selector"),
}


def _cluster(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--cluster", "--bay", dest="cluster", required=required,
                        metavar="CLUSTER", help="Name or UUID of a Kubernetes cluster (bay).")


def _namespace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namespace", help="Kubernetes namespace (default: default).")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read manifest {path}: {exc}") from None


class KubeCommand(base.ClientCommand):
    collection: ClassVar[str]

    @property
    def objects(self) -> KubeObjects:
        found: KubeObjects = {"pods": self.client.pods, "rcs": self.client.rcs,
                              "services": self.client.coe_services}[self.collection]
        return found

    def follow(self, parsed_args: argparse.Namespace, found: KubeObject) -> int:
        if not parsed_args.wait:
            return 0
        return progress.wait_kube(self.objects, str(found.attrs["name"]),
                                  cluster=parsed_args.cluster,
                                  namespace=found.attrs.get("namespace"),
                                  timeout=parsed_args.wait_timeout, out=self.app.stderr,
                                  interval=self.app.poll_interval)

    def again(self, parsed_args: argparse.Namespace, found: KubeObject) -> KubeObject:
        """The object as it is now, after ``--wait``."""
        if not parsed_args.wait:
            return found
        return self.objects.get(str(found.attrs["name"]), parsed_args.cluster,
                                found.attrs.get("namespace"))


class Create(KubeCommand, base.Show):
    code = 0

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--manifest", required=True, type=_read, metavar="FILE",
                            help="The object's manifest, YAML or JSON (sent as written).")
        _cluster(parser)
        base.add_wait(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        created = self.objects.create(parsed_args.cluster, parsed_args.manifest)
        self.code = self.follow(parsed_args, created)
        return base.record(self.again(parsed_args, created))

    def run(self, parsed_args: argparse.Namespace) -> int:
        return super().run(parsed_args) or self.code


class List(KubeCommand, base.List):
    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _cluster(parser)
        _namespace(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        found = self.objects.list(parsed_args.cluster, parsed_args.namespace)
        return base.rows(found, COLUMNS[self.collection])


class Show(KubeCommand, base.Show):
    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="NAME")
        _cluster(parser)
        _namespace(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.record(self.objects.get(parsed_args.name, parsed_args.cluster,
                                            parsed_args.namespace))


class Update(KubeCommand, base.Show):
    """Replace the manifest (``--manifest FILE`` or ``replace manifest=FILE``); replication
    controllers also take ``--replicas N`` or ``replace replicas=N``."""

    code = 0

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="NAME")
        parser.add_argument("op", nargs="?", choices=("replace",),
                            help="The original client's form: replace ATTRIBUTE=VALUE.")
        parser.add_argument("attributes", nargs="*", metavar="ATTRIBUTE=VALUE")
        _cluster(parser)
        _namespace(parser)
        parser.add_argument("--manifest", type=_read, metavar="FILE",
                            help="A new manifest for the same object.")
        if self.collection == "rcs":
            parser.add_argument("--replicas", type=int, help="How many pods to run.")
        base.add_wait(parser)
        # NOTE: the original client's order (NAME --bay B replace replicas=3) splits the
        # positionals around an option, which only intermixed parsing accepts.
        parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        replicas, manifest = self._change(parsed_args)
        name, cluster, namespace = parsed_args.name, parsed_args.cluster, parsed_args.namespace
        if replicas is not None:
            updated = self.objects.scale(name, cluster, replicas, namespace)
        else:
            updated = self.objects.replace(name, cluster, manifest or "", namespace)
        self.code = self.follow(parsed_args, updated)
        return base.record(self.again(parsed_args, updated))

    def _change(self, parsed_args: argparse.Namespace) -> tuple[int | None, str | None]:
        replicas: int | None = getattr(parsed_args, "replicas", None)
        manifest: str | None = parsed_args.manifest
        if bool(parsed_args.op) != bool(parsed_args.attributes):
            raise base.UsageError("Give the operation and its ATTRIBUTE=VALUE together "
                                  "(replace replicas=3).")
        for item in parsed_args.attributes:
            key, _, value = item.partition("=")
            if key == "replicas" and self.collection == "rcs" and value.isdigit():
                replicas = int(value)
            elif key == "manifest" and value:
                try:
                    manifest = _read(value)
                except argparse.ArgumentTypeError as exc:
                    raise base.UsageError(str(exc)) from None
            else:
                raise base.UsageError(f"Cannot replace {item!r}: give replicas=N (replication "
                                      "controllers) or manifest=FILE.")
        if (replicas is None) == (manifest is None):
            raise base.UsageError("Give exactly one change: a new manifest, or replicas.")
        return replicas, manifest

    def run(self, parsed_args: argparse.Namespace) -> int:
        return super().run(parsed_args) or self.code


class Delete(KubeCommand, base.Action):
    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("names", nargs="+", metavar="NAME")
        _cluster(parser)
        _namespace(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        for name in parsed_args.names:
            self.objects.delete(name, parsed_args.cluster, parsed_args.namespace)
            self.say(f"Request to delete {name} has been accepted.")
        return 0


def _command(verb: type[Command], collection: str, what: str) -> type[Command]:
    helps: dict[type[Command], str] = {
        Create: f"Create a {what} from a manifest.", List: f"List the {what}s of a cluster.",
        Show: f"Show a {what} as Kubernetes reports it.", Update: f"Update a {what}.",
        Delete: f"Delete {what}s."}
    made = type(f"{what.title().replace(' ', '')}{verb.__name__}", (verb,),
                {"collection": collection, "__doc__": helps.get(verb, verb.__doc__)})
    return cast(type[Command], made)


def commands() -> dict[str, type[Command]]:
    """Every command under its original name (``pod-create`` … ``coe-service-delete``)."""
    found: dict[str, type[Command]] = {}
    verbs: tuple[type[Command], ...]
    for prefix, collection, what, verbs in (
            ("pod", "pods", "pod", (Create, List, Show, Delete)),
            ("rc", "rcs", "replication controller", (Create, List, Show, Update, Delete)),
            ("coe-service", "services", "service", (Create, List, Show, Update, Delete))):
        for verb in verbs:
            found[f"{prefix}-{verb.__name__.lower()}"] = _command(verb, collection, what)
    return found
