"""The Redis image for Kubernetes nodes, run as a root filesystem on this host.

The image is unpacked into a directory and its programs run there with ``chroot``, inside new
network and PID namespaces (loopback only; every process dies with the namespace), so what is
checked is that the image alone (no library of the host's root) serves Redis and that its
``redis-role`` script forms a master, a sentinel and a replica. Running it in a real node
engine is ``test_redis_example.py``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from magna.drivers.local_kubernetes import redis_image

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("redis-cli") is None or shutil.which("unshare") is None,
    reason="needs root, redis-tools and unshare")

# Inside the image: a master, a sentinel beside it (it finds the master on loopback and names
# it by POD_IP) and a replica that asks the sentinel, each on ports of its own; then a write on
# the master read back on the replica. Every wait is bounded.
ROLES = """
export PATH=/usr/local/bin:/bin
cd /data
MASTER=true REDIS_PORT=6390 redis-role >/tmp/master.log 2>&1 &
SENTINEL=true POD_IP=127.0.0.1 REDIS_PORT=6390 SENTINEL_PORT=26390 ROLE_WAIT=20 \
    redis-role >/tmp/sentinel.log 2>&1 &
REDIS_PORT=6391 REDIS_SENTINEL_SERVICE_HOST=127.0.0.1 REDIS_SENTINEL_SERVICE_PORT=26390 \
    ROLE_WAIT=20 redis-role >/tmp/replica.log 2>&1 &
tries=0
until redis-cli -p 6391 --raw INFO replication | grep -q master_link_status:up; do
    tries=$((tries + 1)); [ "$tries" -lt 100 ] || exit 3; sleep 0.2
done
echo "ping=$(redis-cli -p 6390 ping)"
redis-cli -p 6390 set replication:test true >/dev/null
tries=0
until [ "$(redis-cli -p 6391 get replication:test)" = true ]; do
    tries=$((tries + 1)); [ "$tries" -lt 50 ] || exit 4; sleep 0.2
done
echo "replica=$(redis-cli -p 6391 get replication:test)"
echo "sentinel=$(redis-cli -p 26390 --raw SENTINEL get-master-addr-by-name mymaster | tr '\\n' ' ')"
"""


def unpack(data: bytes, root: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(root, filter="fully_trusted")
    (root / "dev").mkdir()
    os.mknod(root / "dev" / "null", 0o666 | 0o020000, os.makedev(1, 3))


def run_inside(root: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "--net", "--pid", "--fork", "--kill-child", "sh", "-c",
         f'ip link set lo up && exec chroot {root} /bin/sh -c "$0"', script],
        capture_output=True, text=True, timeout=90, check=False)


def test_the_image_is_the_same_for_the_same_host_packages() -> None:
    first = redis_image.rootfs_tar()
    assert redis_image.rootfs_tar() == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = set(tar.getnames())
    assert {"usr/local/bin/redis-server", "usr/local/bin/redis-cli", "usr/local/bin/redis-role",
            "usr/local/bin/redis-sentinel", "bin/sh", "bin/busybox", "data"} <= names
    for binary in ("redis-cli", "redis-check-rdb"):
        assert {lib.lstrip("/") for lib in redis_image.libraries(redis_image.program(binary))
                } <= names
    assert redis_image.name() == f"magna/redis:{redis_image.version().split('.')[0]}"


def test_the_image_alone_runs_a_master_a_sentinel_and_a_replica(tmp_path: Path) -> None:
    root = tmp_path / "root"
    unpack(redis_image.rootfs_tar(), root)
    done = run_inside(root, ROLES)
    logs = {name: (root / "tmp" / f"{name}.log").read_text(errors="replace")
            for name in ("master", "sentinel", "replica")
            if (root / "tmp" / f"{name}.log").exists()}
    assert done.returncode == 0, (done.stdout, done.stderr, logs)
    lines = done.stdout.split()
    assert "ping=PONG" in lines and "replica=true" in lines, done.stdout
    assert "sentinel=127.0.0.1 6390" in done.stdout
    assert "redis-role: replica on port 6391 of 127.0.0.1:6390" in logs["replica"]
