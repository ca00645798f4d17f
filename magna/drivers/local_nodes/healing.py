"""Repairs for a settled cluster that the conductor's health observation found unhealthy.

On a VM, systemd restarts a dockerd that died (``Restart=always``); here ``restart_dead`` is that
analog: every node whose engine no longer answers on its socket is started again (a stale pid
file and containerd leftovers are cleared first) and waited for, bounded. Engines that exit again
or stay silent are reported as failed.

With the cluster label ``auto_healing_enabled=true``, a worker that is still unhealthy after the
repair is replaced: its name goes into ``retired.json`` in the cluster dir, which the planner
treats like ``nodes_to_remove``, so the next apply creates a new node (new name, new slot) and
retires the old one through the ordinary scale-down path, which forgets the name again once its
slot is gone. Masters are never replaced (a new manager cannot restore a lost raft vote).

Which nodes are unhealthy is the driver's judgement (its orchestrator's view of the nodes); this
module only restarts engines and keeps the record of the nodes being replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence

from magna.common import processes
from magna.drivers import labels
from magna.drivers.base import ClusterSpec
from magna.drivers.local_nodes import engine, network, pki

LABEL = "auto_healing_enabled"
RETIRED = "retired.json"


def auto_healing(spec: ClusterSpec) -> bool:
    return labels.flag(spec.labels.get(LABEL))


def retired(cluster_dir: str) -> list[str]:
    """Nodes marked for replacement that still exist."""
    try:
        with open(os.path.join(cluster_dir, RETIRED)) as handle:
            names: list[str] = json.load(handle)
            return names
    except (FileNotFoundError, ValueError):
        return []


def retire(cluster_dir: str, names: Sequence[str]) -> None:
    current = retired(cluster_dir)
    wanted = current + [name for name in names if name not in current]
    if wanted != current:
        network.write_json(os.path.join(cluster_dir, RETIRED), wanted)


def forget(cluster_dir: str, name: str) -> None:
    current = retired(cluster_dir)
    if name in current:
        network.write_json(os.path.join(cluster_dir, RETIRED),
                           [other for other in current if other != name])


def restart_dead(engines: Sequence[tuple[str, engine.EngineSpec]], *, stop_timeout: float,
                 wait: float, force: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Start again every engine that does not answer, and those named in ``force`` (stuck
    ones); return (restarted and answering, failed).

    An engine whose process lives but has not answered for longer than ``wait`` is restarted
    too; one that is still starting (younger than ``wait``) is only waited for.
    """
    started: dict[str, tuple[engine.EngineSpec, int]] = {}
    for name, spec in engines:
        if name in force:
            engine.stop(spec, stop_timeout)
        elif engine.ping(spec):
            continue
        pid = engine.pid_of(spec)
        if pid is not None and engine.seconds_since_start(spec) <= wait:
            started[name] = (spec, pid)
            continue
        if pid is not None:
            engine.stop(spec, stop_timeout)
        want = engine.desired_hash(spec, pki.server_files(spec.node_dir).digest())
        started[name] = (spec, engine.start(spec, want))
    deadline = time.monotonic() + wait
    restarted, failed = [], []
    pending = dict(started)
    while pending:
        for name, (spec, pid) in list(pending.items()):
            if engine.ping(spec):
                restarted.append(name)
                engine.reset_exits(spec)
                del pending[name]
            elif not processes.alive(pid) or time.monotonic() > deadline:
                with contextlib.suppress(OSError):
                    engine.record_exit(spec)
                failed.append(name)
                del pending[name]
        if pending:
            time.sleep(0.2)
    return sorted(restarted), sorted(failed)
