"""Reading the fake driver's files the way a test looks at them after the fact.

The fake driver (``magna.drivers.fake``) writes its nodes as files and logs a "start" and an
"end" line for every apply, delete and collect. The driver itself never reads that log back:
only tests do, to prove that no two operations on one cluster ever ran at the same time
(``overlaps``), also across processes killed in the middle (``spans``). ``held`` is the test's
side of the driver's ``fake_hold`` label.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass

from magna.drivers.fake import HOLDS, ROOT, ClusterFiles


@contextlib.contextmanager
def held(state_dir: str, gate: str) -> Iterator[None]:
    """Inside, every apply and delete of a cluster labelled ``fake_hold=<gate>`` waits at its start.

    A status read inside is therefore certainly the one the request left (``*_IN_PROGRESS``), not
    whatever the driver reached meanwhile; leaving lets the held operations go on.
    """
    path = os.path.join(state_dir, HOLDS, gate)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w"):
        pass
    try:
        yield
    finally:
        os.unlink(path)


def nodes_on_disk(state_dir: str, cluster_uuid: str) -> list[str]:
    """Names of the fake nodes of a cluster, as a test sees them on disk."""
    files = ClusterFiles(os.path.join(state_dir, ROOT), cluster_uuid)
    return [node.name for node in files.nodes()]


@dataclass
class Span:
    """One operation on one cluster: the 0-based indexes of its start and end lines in the log."""

    cluster: str
    actor: str
    start: int
    end: int | None = None
    killed: bool = False

    def describe(self) -> str:
        end = "killed" if self.killed else f"{(self.end or 0) + 1}"
        return f"{self.actor} (lines {self.start + 1}-{end})"


def _entries(log_path: str) -> list[tuple[str, str, str]]:
    """(event, cluster, actor) per well-formed line; a torn or foreign line is skipped."""
    entries = []
    with open(log_path) as handle:
        for line in handle:
            fields = line.split()
            if len(fields) in (5, 6) and fields[0] in ("start", "end"):
                thread = f"/{fields[5]}" if len(fields) == 6 else ""
                entries.append((fields[0], fields[1], f"pid {fields[2]}@{fields[3]}{thread}"))
    return entries


def spans(log_path: str) -> list[Span]:
    """Pair each start with the same actor's next end on the same cluster.

    A start without an end belongs to a process that was killed: it cannot have continued past
    the next start of any process on that cluster, so that is where it ends.
    """
    entries = _entries(log_path)
    found: list[Span] = []
    open_spans: dict[tuple[str, str], Span] = {}
    for index, (event, cluster, actor) in enumerate(entries):
        if event == "start":
            open_spans[(cluster, actor)] = Span(cluster, actor, index)
            found.append(open_spans[(cluster, actor)])
        elif (cluster, actor) in open_spans:
            open_spans.pop((cluster, actor)).end = index
    for span in found:
        if span.end is None:
            later = [s.start for s in found if s.cluster == span.cluster and s.start > span.start]
            span.end, span.killed = min(later, default=len(entries)), True
    return found


def overlaps(log_path: str) -> list[str]:
    """Descriptions of every two operations on the same cluster that ran at the same time.

    NOTE: order is the order of lines in the file, not the timestamps: every line is one
    O_APPEND write, so the file order is the order the writes happened in, exactly.
    """
    if not os.path.exists(log_path):
        return []
    found = []
    for a, b in itertools.combinations(spans(log_path), 2):
        assert a.end is not None and b.end is not None
        if a.cluster == b.cluster and a.start < b.end and b.start < a.end:
            found.append(f"cluster {a.cluster}: {a.describe()} overlaps {b.describe()}")
    return found
