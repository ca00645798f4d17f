"""A node's own disk as the storage tests look at it: sizes in GiB, and the loop devices that
back node filesystems, listed by ``losetup`` (the host's view, whatever the driver says).

The swarm-mode and the Kubernetes storage tests (``test_node_storage.py``,
``test_node_storage_kubernetes.py``) share them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

GIB = 1 << 30


def loops_under(path: Path | str) -> list[str]:
    """Loop devices whose backing file is under ``path`` (deleted ones too), as losetup says."""
    listed = subprocess.run(["losetup", "--list", "--json", "--output", "NAME,BACK-FILE"],
                            capture_output=True, text=True, check=True).stdout
    devices = json.loads(listed)["loopdevices"] if listed.strip() else []
    return [d["name"] for d in devices if str(d["back-file"]).startswith(f"{path}/")]
