"""Following a pod, replication controller or service until Kubernetes reports it usable.

The API answers with the object as the cluster's API server stored it; what ``--wait`` waits
for is the cluster's later report: a pod ``Running``, a replication controller with as many
ready replicas as it asks for, a service with a cluster IP. ``follow`` polls the object and
yields one ``Step`` per poll, the last one settled. A pod that ends (``Failed``, or
``Succeeded`` before anyone saw it running) raises ``OperationFailed``; the deadline raises
``WaitTimeout`` (each with the CLI's exit code).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from magna.client import errors
from magna.client.models import KubeObjects

ENDED = ("Failed", "Succeeded")


@dataclass(frozen=True)
class Step:
    state: str
    elapsed: float
    settled: bool


def state_of(collection: str, attrs: Mapping[str, Any]) -> tuple[str, bool]:
    """What the object's document says (a short phrase) and whether it is what is awaited."""
    if collection == "pods":
        status = str(attrs.get("status") or "Unknown")
        where = f" on {attrs['host']}" if attrs.get("host") else ""
        return f"{status}{where}", status == "Running"
    if collection == "rcs":
        ready, wanted = int(attrs.get("ready_replicas") or 0), int(attrs.get("replicas") or 0)
        return f"{ready}/{wanted} replicas ready", ready == wanted
    address = attrs.get("ip")
    return (f"IP {address}", True) if address else ("no IP yet", False)


def follow(objects: KubeObjects, name: str, *, cluster: str, namespace: str | None,
           timeout: float, interval: float = 1.0,
           clock: Callable[[], float] = time.monotonic) -> Iterator[Step]:
    start = clock()
    while True:
        found = objects.get(name, cluster, namespace)
        state, settled = state_of(objects.collection, found.attrs)
        step = Step(state, clock() - start, settled)
        yield step
        if settled:
            return
        if objects.collection == "pods" and found.attrs.get("status") in ENDED:
            raise errors.OperationFailed(f"Pod {name} ended {found.attrs['status']} before "
                                         "it was seen running.")
        if step.elapsed >= timeout:
            raise errors.WaitTimeout(f"{name} is still {state} after {step.elapsed:.0f}s.")
        time.sleep(interval)
