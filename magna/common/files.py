"""Replacing a file all at once, safely when several threads or processes write it together.

Readers see the old content or the new, never a part. Each writer goes through a temporary
file of its own (``mkstemp`` in the same directory), so two writers of one path cannot rename
each other's temporary file away: the node layer builds a cluster's nodes side by side, and
several of them write the cluster's shared files (its ``authorized_keys``, network records).
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def replace(path: str, data: bytes, mode: int = 0o644, owner: int | None = None) -> None:
    """Make ``path`` hold ``data`` with ``mode`` (and ``owner`` as user and group, if given)."""
    directory, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(dir=directory or ".", prefix=f"{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if owner is not None:
            os.chown(tmp, owner, owner)
        os.chmod(tmp, mode)  # NOTE: after chown, which clears the setuid bit
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
