"""Notes a cluster's user is told once: when the cluster first converges.

Some facts hold for the whole life of a cluster (this host's kernel lacks a feature; nodes
cannot pull from public registries, here is what they have instead). A driver reports them in
``Observed.notes``, which the conductor records as cluster events; telling them on every pass
would flood the event log. ``FirstNotes`` remembers, per cluster, that they were told: a marker
file in the cluster dir, so the record lives and dies with the cluster and survives restarts.

NOTE: the file is still called ``notes-sent``, as before the node layer existed, so clusters
made then do not tell their notes a second time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MARKER = "notes-sent"


@dataclass(frozen=True)
class FirstNotes:
    cluster_dir: str

    @property
    def marker(self) -> str:
        return os.path.join(self.cluster_dir, MARKER)

    def told(self) -> bool:
        return os.path.exists(self.marker)

    def mark_told(self) -> None:
        with open(self.marker, "w") as handle:
            handle.write("notes\n")
