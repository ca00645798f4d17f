"""Operator views: ``service list`` (conductors), ``quota …``, ``stats show``, ``status``.

``status`` answers "what runs and what is unhealthy" in one table: the API (reachable, its
microversions), each conductor (up or down, from ``/v1/mservices``), the clusters at a glance
(how many, by status, how many unhealthy), every cluster that is ``*_FAILED`` or
``UNHEALTHY``, and what the local drivers need of the machine the command runs
on (``magna.hostcheck.requirements``, named "this host: ..."; ``--no-host`` leaves them out, for
a client on another machine than the conductor). It exits 0 when everything is fine, 3 when
something is down, failed or missing, 5 when the API does not answer.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from typing import Any

from magna.cli import base
from magna.client import errors
from magna.hostcheck import requirements

SERVICE_COLUMNS = ("id", "host", "binary", "state", "disabled", "disabled_reason",
                   "created_at", "updated_at")
QUOTA_COLUMNS = ("project_id", "resource", "hard_limit")
STATUS_COLUMNS = ("component", "name", "state", "detail")
PROBLEM = 3
BAD_HEALTH = ("UNHEALTHY",)


class ServiceList(base.List):
    """List the conductors and whether each is up."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.rows(self.client.mservices(), SERVICE_COLUMNS)


def _project_resource(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--resource", default="Cluster")
    return parser


class QuotaCreate(base.Show):
    """Set a project's limit for a resource (admin)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = _project_resource(super().get_parser(prog_name))
        parser.add_argument("--hard-limit", type=int, required=True)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        quota = self.client.quotas.create(project_id=parsed_args.project_id,
                                          resource=parsed_args.resource,
                                          hard_limit=parsed_args.hard_limit)
        return base.record(quota)


class QuotaUpdate(QuotaCreate):
    """Change a project's limit for a resource (admin)."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        quota = self.client.quotas.update_quota(parsed_args.project_id, parsed_args.resource,
                                                parsed_args.hard_limit)
        return base.record(quota)


class QuotaShow(base.Show):
    """Show a project's limit for a resource."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        return _project_resource(super().get_parser(prog_name))

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        quota = self.client.quotas.get_quota(parsed_args.project_id, parsed_args.resource)
        return base.record(quota)


class QuotaDelete(base.Action):
    """Remove a project's limit for a resource (admin)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        return _project_resource(super().get_parser(prog_name))

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        self.client.quotas.delete_quota(parsed_args.project_id, parsed_args.resource)
        self.say(f"Quota {parsed_args.resource} of project {parsed_args.project_id} deleted.")
        return 0


class QuotaList(base.List):
    """List quotas."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--all-tenants", action="store_true")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        params = {"all_tenants": "True"} if parsed_args.all_tenants else {}
        return base.rows(self.client.quotas.list(**params), QUOTA_COLUMNS)


class StatsShow(base.Show):
    """Show how many clusters and nodes a project (or everyone) has."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("project_id", nargs="?", metavar="PROJECT_ID")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return base.record(self.client.stats(parsed_args.project_id))


def _in_trouble(status: str, health: str) -> bool:
    return status.endswith("_FAILED") or health in BAD_HEALTH


def cluster_summary(clusters: Sequence[tuple[str, str]]) -> tuple[str, str, str, str]:
    """The row that shows every cluster at a glance, from each one's (status, health): how
    many, how many of each status, how many unhealthy; its state says whether any of them has
    a row of its own below (failed or unhealthy)."""
    if not clusters:
        return ("clusters", "0 clusters", "none", "no cluster yet")
    by_status = Counter(status for status, _ in clusters)
    unhealthy = sum(health in BAD_HEALTH for _, health in clusters)
    trouble = sum(_in_trouble(status, health) for status, health in clusters)
    counts = ", ".join(f"{status or '-'} {n}" for status, n in sorted(by_status.items()))
    return ("clusters", f"{len(clusters)} cluster{'s' if len(clusters) > 1 else ''}",
            f"{trouble} in trouble" if trouble else "fine",
            f"by status: {counts}; unhealthy: {unhealthy}")


class Status(base.List):
    """Tell what runs and what is unhealthy: API, conductors, clusters, this host."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--no-host", action="store_true",
                            help="Leave out what the local drivers need of this machine (for "
                                 "a client on another machine than the conductor).")
        return parser

    def run(self, parsed_args: argparse.Namespace) -> int:
        self.problem = 0
        code = super().run(parsed_args)
        return code or self.problem

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        rows = [self._api()]
        rows += self._conductors()
        rows += self._clusters()
        if not parsed_args.no_host:
            rows += self._host()
        return STATUS_COLUMNS, rows

    def _api(self) -> tuple[str, str, str, str]:
        info = self.client.api.versions()["versions"][0]
        return ("api", self.client.api.url, "up",
                f"microversions {info['min_version']}-{info['max_version']}")

    def _conductors(self) -> list[tuple[str, str, str, str]]:
        try:
            services = self.client.mservices()
        except errors.HTTPError as exc:
            return [("conductor", "-", "unknown", exc.message)]
        if not services:
            self.problem = PROBLEM
            return [("conductor", "-", "none", "no conductor has ever reported")]
        rows = []
        for svc in services:
            if svc.attrs.get("state") != "up":
                self.problem = PROBLEM
            rows.append(("conductor", f"{svc.host} ({svc.binary})", str(svc.state),
                         f"last report {svc.attrs.get('updated_at')}"))
        return rows

    def _clusters(self) -> list[tuple[str, str, str, str]]:
        clusters = self.client.clusters.list_all()
        rows = [cluster_summary([(str(c.attrs.get("status") or ""),
                                  str(c.attrs.get("health_status") or "")) for c in clusters])]
        for cluster in clusters:
            status = str(cluster.attrs.get("status") or "")
            health = str(cluster.attrs.get("health_status") or "")
            if _in_trouble(status, health):
                self.problem = PROBLEM
                shown = self.client.clusters.get(cluster.uuid).attrs  # lists omit the reason
                reason = shown.get("status_reason") or shown.get("health_status_reason") or ""
                rows.append(("cluster", str(cluster.name), f"{status} {health}".strip(),
                             str(reason)))
        return rows

    def _host(self) -> list[tuple[str, str, str, str]]:
        rows = []
        for requirement in requirements.check():
            if not requirement.met:
                self.problem = PROBLEM
            rows.append(("host", f"this host: {requirement.name}",
                         "met" if requirement.met else "missing", requirement.detail))
        return rows
