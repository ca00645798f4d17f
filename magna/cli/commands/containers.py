"""Containers on swarm-mode clusters (Magna's ``/v1/containers``), as the original client had.

``container-create --name N --image I --bay|--cluster C [--command …] [--memory 64m]
[--environment K=V …]``, ``-list [--bay C]``, ``-show``, ``-delete``, the actions ``-start``,
``-stop``, ``-reboot``, ``-pause``, ``-unpause``, ``-exec C --command …`` (prints the output and
exits with the command's exit code) and ``-logs C [--tail N]``; every one also as ``container
create …``. ``--wait`` on create, the actions and delete follows the request until the engine's
answer is recorded (``client/container_waiting.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from magna.cli import base, parsing, progress
from magna.client.models import Container

LIST_COLUMNS = ("uuid", "name", "image", "status", "exit_code", "host")


def _container(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("container", metavar="CONTAINER", help="Name or UUID.")
    return parser


class ContainerCommand(base.ClientCommand):
    def follow(self, parsed_args: argparse.Namespace, container: Container, *,
               gone: bool = False) -> int:
        """Follow the request when ``--wait`` was given; the exit code."""
        if not parsed_args.wait:
            return 0
        return progress.wait_container(self.client, container.uuid,
                                       label=str(container.attrs.get("name") or container.uuid),
                                       since=container.attrs.get("updated_at"), gone=gone,
                                       timeout=parsed_args.wait_timeout, out=self.app.stderr,
                                       interval=self.app.poll_interval)


class Create(ContainerCommand, base.Show):
    """Create and start a container on a swarm-mode cluster (bay)."""

    code = 0

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", help="Letters, digits, '_', '.', '-' (default: made up).")
        parser.add_argument("--image", required=True,
                            help="An image on the nodes (magna/busybox:latest) or in the "
                                 "cluster's registry; never pulled from a public one.")
        parser.add_argument("--cluster", "--bay", dest="cluster", required=True,
                            metavar="CLUSTER", help="Name or UUID of a swarm-mode cluster.")
        parser.add_argument("--command", help="What to run, split as a shell would "
                                              "(\"sh -c 'echo hi'\").")
        parser.add_argument("--memory", type=parsing.memory_mib,
                            help="Memory limit: 64m, 1g, or MiB (at least 6).")
        parser.add_argument("--environment", "-e", action="append", default=[],
                            type=parsing.env_var, metavar="KEY=VALUE",
                            help="An environment variable (repeatable).")
        base.add_wait(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        body: dict[str, Any] = {"image": parsed_args.image, "cluster": parsed_args.cluster}
        for key in ("name", "command", "memory"):
            if getattr(parsed_args, key) is not None:
                body[key] = getattr(parsed_args, key)
        if parsed_args.environment:
            body["environment"] = dict(parsed_args.environment)
        container = self.client.containers.create(**body)
        self.code = self.follow(parsed_args, container)
        if parsed_args.wait:
            container = self.client.containers.get(container.uuid)
        return base.record(container)

    def run(self, parsed_args: argparse.Namespace) -> int:
        return super().run(parsed_args) or self.code


class List(base.List):
    """List containers, of one cluster with --bay/--cluster."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--cluster", "--bay", dest="cluster", metavar="CLUSTER",
                            help="Name or UUID.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.rows(self.client.containers.list(cluster=parsed_args.cluster),
                         LIST_COLUMNS)


class Show(base.Show):
    """Show a container: its status is what the engine last reported."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        return _container(super().get_parser(prog_name))

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.record(self.client.containers.get(parsed_args.container))


class Delete(ContainerCommand, base.Action):
    """Delete containers (stopped and removed from their engine)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("containers", nargs="+", metavar="CONTAINER")
        base.add_wait(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        found = [self.client.containers.get(ident) for ident in parsed_args.containers]
        for ident, container in zip(parsed_args.containers, found, strict=True):
            self.client.containers.delete(container.uuid)
            self.say(f"Request to delete container {ident} has been accepted.")
        codes = [self.follow(parsed_args, container, gone=True) for container in found]
        return max(codes, default=0)


class LifecycleAction(ContainerCommand, base.Action):
    action = ""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = _container(super().get_parser(prog_name))
        base.add_wait(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        container = self.client.containers.act(parsed_args.container, self.action)
        self.say(f"Request to {self.action} container {parsed_args.container} has been "
                 "accepted.")
        return self.follow(parsed_args, container)


class Start(LifecycleAction):
    """Start a stopped container."""

    action = "start"


class Stop(LifecycleAction):
    """Stop a container (SIGTERM, then SIGKILL after 10 s)."""

    action = "stop"


class Reboot(LifecycleAction):
    """Restart a container."""

    action = "reboot"


class Pause(LifecycleAction):
    """Freeze a running container's processes."""

    action = "pause"


class Unpause(LifecycleAction):
    """Thaw a paused container."""

    action = "unpause"


class Exec(base.Action):
    """Run a command in a running container; print its output, exit with its exit code."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = _container(super().get_parser(prog_name))
        parser.add_argument("--command", required=True,
                            help="What to run, split as a shell would (\"sh -c 'exit 3'\").")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        result = self.client.containers.exec(parsed_args.container, parsed_args.command)
        self.app.stdout.write(result.output)
        return result.exit_code


class Logs(base.Action):
    """Print a container's output (stdout and stderr)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = _container(super().get_parser(prog_name))
        parser.add_argument("--tail", type=int, metavar="N", help="Only the last N lines.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        self.app.stdout.write(self.client.containers.logs(parsed_args.container,
                                                          parsed_args.tail))
        return 0
