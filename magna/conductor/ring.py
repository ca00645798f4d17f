"""A consistent hash ring: which live conductor owns which cluster.

When a conductor joins or dies only the clusters that hashed to it move; every conductor
computes the same answer from the same list of live hosts, with no coordination.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable

REPLICAS = 64


def _hash(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:8], "big")


class HashRing:
    def __init__(self, hosts: Iterable[str], replicas: int = REPLICAS) -> None:
        self.hosts = sorted(set(hosts))
        points = sorted((_hash(f"{host}-{i}"), host) for host in self.hosts
                        for i in range(replicas))
        self._keys = [key for key, _ in points]
        self._owners = [host for _, host in points]

    def owner(self, key: str) -> str | None:
        if not self._keys:
            return None
        index = bisect.bisect(self._keys, _hash(key)) % len(self._keys)
        return self._owners[index]

    def owns(self, host: str, key: str) -> bool:
        return self.owner(key) == host
