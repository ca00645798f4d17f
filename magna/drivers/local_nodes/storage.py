"""A node's own disk: the template's storage settings made real on local nodes, or refused.

Upstream, ``docker_volume_size`` gives every node a block device of that many GiB for its
container storage. A local node has no disk of its own, so the node layer makes one: a sparse
file beside the node's root (``<node dir>/docker-volume.img``), formatted ext4 once, and
loop-mounted inside the node's own mount namespace as its engine starts (``seal.sh``'s ``vol:``
item). Data flows like this::

    LocalNodes._node: volume_of -> Volume(image, size, paths) on the EngineSpec
    engine.start -> ensure(volume): image made (crash-safe), previous loop released,
                    then seal.sh: mount -o loop image <staging>; bind <staging>/<name> on
                    each path (/var/lib/docker, and /var/lib/kubelet on Kubernetes nodes);
                    unmount the staging point
    node gone    -> the kernel unmounts the node's namespace; mount's loop device was made
                    with autoclear, so it detaches; ``release`` (a node) and
                    ``release_cluster`` (teardown) make sure before the files go

NOTE: the mount lives in the node's namespace only, never the host's: a host mount would be
copied into every mount namespace created on the host while it exists (other nodes' engines,
any ``unshare`` an operator runs) and survive its unmount there, keeping the loop device and
the deleted image alive. In the node's namespace it goes when the node's last process goes.

Without ``docker_volume_size`` a node's data root is a directory on the filesystem holding the
state dir, as it always was. ``check`` refuses what local nodes cannot give: storage drivers
other than overlay2 and vfs, any ``volume_driver`` (there is no block storage service; the
message says what to use instead), and a size larger than the filesystem under the nodes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from magna.common.exceptions import PermanentError, TemporaryError
from magna.drivers.base import Settings
from magna.drivers.local_nodes import host, rootfs

IMAGE = "docker-volume.img"
DATA_ROOT = f"/{rootfs.DATA_ROOT}"  # as the node sees it
STORAGE_DRIVERS = ("overlay2", "vfs")
DEFAULT_STORAGE_DRIVER = "overlay2"
# NOTE: the keys are the volume drivers Magnum knows (domain/coe.py RULES): what the COE rule
# lets through, this refuses with what to use here instead.
VOLUME_ALTERNATIVES = {
    # NOTE: not hostPath: the admission policy of a local Kubernetes cluster refuses it
    "cinder": "use emptyDir volumes, which live within the node",
    "rexray": "use the engine's local volumes (docker volume create), which live within the "
              "node",
}
GIB = 1 << 30
RELEASE_WAIT = 5.0  # seconds for the kernel to detach a loop device whose node just ended


@dataclass(frozen=True)
class Volume:
    """One node's disk: its image on the host, its size, and the node paths placed on it."""

    image: str
    size_gib: int
    paths: tuple[str, ...] = (DATA_ROOT,)

    def seal_item(self) -> str:
        """The ``seal.sh`` item that mounts it: ``vol:PATH,PATH:IMAGE``."""
        return f"vol:{','.join(self.paths)}:{self.image}"


def volume_of(node_dir: str, size_gib: int | None, more: tuple[str, ...] = ()
              ) -> Volume | None:
    """The node's volume for ``docker_volume_size`` (None: the data root stays on the host's
    filesystem); ``more``: node paths beside the data root the orchestrator puts on it.

    NOTE: a node whose data root on the host holds data and that has no image was made before
    Magna gave nodes disks (the setting was stored and ignored then): it keeps its data root,
    since an empty disk mounted over it would cost it its images and orchestrator state; new
    nodes (a scale-up, a replacement) get the disk."""
    if size_gib is None:
        return None
    volume = Volume(image=os.path.join(node_dir, IMAGE), size_gib=size_gib,
                    paths=(DATA_ROOT, *more))
    if not os.path.exists(volume.image) and _holds_data(node_dir):
        return None
    return volume


def _holds_data(node_dir: str) -> bool:
    try:
        return bool(os.listdir(os.path.join(node_dir, rootfs.ROOT, rootfs.DATA_ROOT)))
    except FileNotFoundError:
        return False


def check(settings: Settings, *, kind: str, root: str) -> None:
    """Refuse the storage settings nodes of the ``kind`` driver (state under ``root``) cannot
    honour."""
    asked = settings.docker_storage_driver
    if asked is not None and asked not in STORAGE_DRIVERS:
        raise PermanentError(
            f"docker_storage_driver {asked} is not available on the {kind} driver; its "
            f"engines offer {' and '.join(STORAGE_DRIVERS)} ({DEFAULT_STORAGE_DRIVER} when "
            "unset).")
    if settings.volume_driver is not None:
        instead = VOLUME_ALTERNATIVES.get(settings.volume_driver, "use volumes local to "
                                          "the node")
        raise PermanentError(
            f"volume_driver {settings.volume_driver} is not available on the {kind} driver: "
            f"there is no block storage service on this host; leave it unset and {instead} "
            "(on docker_volume_size when it is set).")
    _check_size(settings.docker_volume_size, kind=kind, root=root)


def _check_size(size_gib: int | None, *, kind: str, root: str) -> None:
    if size_gib is None:
        return
    total = _filesystem_gib(root)
    if size_gib > total:
        raise PermanentError(
            f"docker_volume_size {size_gib} is more than the {total} GiB filesystem that holds "
            f"the {kind} driver's nodes; a node's volume must fit on it.")


def _filesystem_gib(root: str) -> int:
    """The size of the filesystem that holds (or will hold) ``root``."""
    path = root
    while not os.path.exists(path):
        path = os.path.dirname(path) or "/"
    stat = os.statvfs(path)
    return stat.f_blocks * stat.f_frsize // GIB


def ensure(volume: Volume) -> None:
    """Before the node's engine starts: the image exists, formatted, no loop device holds it
    any more (its previous engine's namespace may still be going away; mounting it twice
    would be two filesystems writing one disk), and it is consistent; idempotent."""
    if not os.path.exists(volume.image):
        _make(volume)
    _wait_released(lambda: _loops_of(volume.image), what=volume.image)
    _mend(volume)


def _program(name: str, package: str = "e2fsprogs") -> str:
    """A program the volumes need, wherever this host keeps it (sbin may not be on PATH)."""
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        raise PermanentError(f"docker_volume_size needs {package} on the conductor's host: "
                             f"apt-get install {package}")
    return found


def _make(volume: Volume) -> None:
    """A sparse file of the size, formatted ext4, then renamed into place: an image that
    exists is whole, and a half-made one (``.tmp``, after a crash) is made again.

    NOTE: no journal (``^has_journal``): the volume holds a node's containers and images,
    which the node's engine and orchestrator recreate, not data whose loss after a host crash
    a journal would prevent; without one, writes are not doubled and no journal thread runs
    per node. The kernel unmounts it cleanly whenever a node ends, however it ends; after a
    host crash ``e2fsck -p`` repairs what it can before the node next starts (``_mend``).
    NOTE: the default 5% reserved for root stays: containers write as remapped, unprivileged
    ids, so when they fill the volume its engine (root) can still write its own state."""
    tmp = f"{volume.image}.tmp"
    with open(tmp, "wb") as handle:
        handle.truncate(volume.size_gib * GIB)
    host.run(_program("mkfs.ext4"), "-q", "-F", "-O", "^has_journal", "-L", "magna-node", tmp)
    os.replace(tmp, volume.image)


def _mend(volume: Volume) -> None:
    """``e2fsck -p``: a clean volume (every node end but a host crash) is a glance at its
    superblock; one left dirty is checked and what is safe to fix is fixed. A second run
    passes once the first fixed everything, else it is the error (``CommandFailed``)."""
    if not host.probe(_program("e2fsck"), "-p", volume.image):
        host.run(_program("e2fsck"), "-p", volume.image)


def release(under: str) -> None:
    """Detach every loop device whose image lies under ``under`` (a node's directory) and
    wait until the kernel has, so no device outlives its deleted file; a device still held
    after ``RELEASE_WAIT`` is a ``TemporaryError`` (the removal retries)."""
    prefix = os.path.realpath(under) + os.sep
    _release(lambda path: path.startswith(prefix), what=under)


def release_cluster(cluster_uuid: str) -> None:
    """``release`` for every node of the cluster, wherever its state dir is or was: the
    cluster's uuid in the image's path, so a state dir moved or removed (whose leftovers any
    conductor collects) is released too."""
    _release(lambda path: f"/{cluster_uuid}/" in path, what=f"cluster {cluster_uuid}")


def _release(matches: Callable[[str], bool], *, what: str) -> None:
    for device in _loops_backed(matches):
        # NOTE: on a device still mounted (its node's namespace going away), this sets
        # autoclear and the kernel detaches it when the namespace's last mount goes.
        host.probe(_program("losetup", "mount"), "-d", device)
    _wait_released(lambda: _loops_backed(matches), what=what)


def _wait_released(held: Callable[[], list[str]], *, what: str) -> None:
    deadline = time.monotonic() + RELEASE_WAIT
    while devices := held():
        if time.monotonic() > deadline:
            raise TemporaryError(f"The node volume {what} is still in use by "
                                 f"{', '.join(devices)}.", delay=2.0)
        time.sleep(0.05)


def _loops_of(image: str) -> list[str]:
    """Loop devices backed by ``image`` (the same file: its device and inode)."""
    return [str(device["name"]) for device in _listed() if _same_file(device, image)]


def _loops_backed(matches: Callable[[str], bool]) -> list[str]:
    """Loop devices whose backing file's path ``matches`` (deleted files too; the path ends
    with a separator)."""
    return [str(device["name"]) for device in _listed()
            if matches(str(device.get("back-file") or "").removesuffix(" (deleted)") + os.sep)]


def _listed() -> list[dict[str, object]]:
    text = host.run(_program("losetup", "mount"), "--list", "--json", "--output",
                    "NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN")
    devices: list[dict[str, object]] = json.loads(text).get("loopdevices", []) if text else []
    return devices


def _same_file(device: dict[str, object], path: str) -> bool:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return False
    major, minor = str(device.get("back-maj:min") or "0:0").strip().split(":")
    return (int(str(device.get("back-ino") or -1)) == stat.st_ino
            and os.makedev(int(major), int(minor)) == stat.st_dev)
