"""Whether a process still runs, as the kernel sees it: one reading of ``/proc/<pid>/stat``
shared by everything that starts and stops host processes (engines, the engine guard,
HAProxy, the registry)."""

from __future__ import annotations


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (or dead, waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False
