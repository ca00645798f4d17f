"""Showing a cluster or container operation while ``--wait`` follows it, and how it ended.

On a terminal, one line on stderr is redrawn in place (status, nodes with an address out of
the nodes asked for, health, elapsed seconds); otherwise a plain line is printed whenever the
status or the node count changes, so logs stay readable. On failure the cluster's
``status_reason`` and its most recent events (Magna's ``/v1/clusters/{id}/events``) follow.
A container's line is its status, exit code and node (``client/container_waiting.py``).
"""

from __future__ import annotations

from typing import TextIO

from magna.client import Client, container_waiting, errors, kube_waiting, waiting
from magna.client.models import KubeObjects

RECENT_EVENTS = 10


def describe(name: str, progress: waiting.Progress) -> str:
    nodes = f"  nodes {progress.ready}/{progress.expected}" if progress.expected else ""
    health = f"  {progress.health}" if progress.health and progress.health != "UNKNOWN" else ""
    return f"{name}: {progress.status}{nodes}{health}  {progress.elapsed:.0f}s"


def wait(client: Client, ident: str, *, gone: bool, timeout: float, out: TextIO,
         interval: float = 1.0, label: str = "") -> int:
    """Follow the operation; the exit code (0, or the error's own)."""
    live = out.isatty()
    shown = ""
    try:
        for progress in waiting.follow(client, ident, gone=gone, timeout=timeout,
                                       interval=interval):
            shown = _show(out, describe(label or ident, progress), shown, live=live)
    except waiting.Stopped as exc:
        _finish(out, live, shown)
        out.write(f"ERROR: {exc.message.replace(ident, label or ident)}\n")
        _events(client, ident, out)
        return exc.exit_code
    _finish(out, live, shown)
    return 0


def describe_container(name: str, step: container_waiting.Step) -> str:
    code = f"  exit code {step.exit_code}" if step.exit_code is not None else ""
    host = f"  on {step.host}" if step.host and step.status != container_waiting.GONE else ""
    pending = "" if step.settled else "  (waiting for the engine)"
    return f"{name}: {step.status}{code}{host}{pending}  {step.elapsed:.0f}s"


def wait_container(client: Client, ident: str, *, since: str | None, gone: bool,
                   timeout: float, out: TextIO, interval: float = 1.0, label: str = "") -> int:
    """Follow a container request; the exit code (0, 3 for Error, 4 for the deadline)."""
    live = out.isatty()
    shown = ""
    try:
        for step in container_waiting.follow(client, ident, since=since, gone=gone,
                                             timeout=timeout, interval=interval):
            shown = _show(out, describe_container(label or ident, step), shown, live=live)
    except (errors.OperationFailed, errors.WaitTimeout) as exc:
        _finish(out, live, shown)
        out.write(f"ERROR: {exc.message.replace(ident, label or ident)}\n")
        return exc.exit_code
    _finish(out, live, shown)
    return 0


def wait_kube(objects: KubeObjects, name: str, *, cluster: str, namespace: str | None,
              timeout: float, out: TextIO, interval: float = 1.0) -> int:
    """Follow a pod, replication controller or service until it is usable; the exit code
    (0, 3 when a pod ended, 4 for the deadline)."""
    live = out.isatty()
    shown = ""
    try:
        for step in kube_waiting.follow(objects, name, cluster=cluster, namespace=namespace,
                                        timeout=timeout, interval=interval):
            shown = _show(out, f"{name}: {step.state}  {step.elapsed:.0f}s", shown, live=live)
    except (errors.OperationFailed, errors.WaitTimeout) as exc:
        _finish(out, live, shown)
        out.write(f"ERROR: {exc.message}\n")
        return exc.exit_code
    _finish(out, live, shown)
    return 0


def _show(out: TextIO, line: str, shown: str, *, live: bool) -> str:
    if live:
        out.write("\r\033[K" + line)
        out.flush()
    elif _moved(line, shown):
        out.write(line + "\n")
    return line


def _moved(line: str, shown: str) -> bool:
    """Whether anything but the elapsed time changed."""
    return line.rsplit("  ", 1)[0] != shown.rsplit("  ", 1)[0]


def _finish(out: TextIO, live: bool, shown: str) -> None:
    if live and shown:
        out.write("\n")


def _events(client: Client, ident: str, out: TextIO) -> None:
    try:
        events = client.clusters.events(ident, RECENT_EVENTS)
    except errors.ClientError:
        return  # the cluster may be gone, or the server may not be Magna
    if events:
        out.write("Recent events:\n")
    for event in events[-RECENT_EVENTS:]:
        out.write(f"  {event.get('created_at')} {event.get('level')} {event.get('reason')}: "
                  f"{event.get('message')}\n")
