"""Facts about the machine and the code a run measured, stored with every result."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from typing import Any

import psutil


def _git(*args: str) -> str | None:
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=False,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return done.stdout.strip() if done.returncode == 0 else None


def facts() -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "memory_total_mib": memory.total // 2**20,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
