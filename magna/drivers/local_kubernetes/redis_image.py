"""A Redis image for Kubernetes nodes, built from the host's Debian Redis with nothing pulled.

The original guides' Kubernetes walk-through runs a replicated Redis (a master, replicas and
sentinels; ``docs/examples/redis``). Nodes cannot pull an image, so every node gets
``magna/redis:<major version>`` imported beside busybox and pause (``images.ensure``).

``rootfs_tar`` builds it in memory from what the host has: the server program of Debian's
``redis-tools`` (one binary that is the server, and the sentinel when called with
``--sentinel``) and ``redis-cli``, each shared library ``ldd`` names (copied to the path the
loader looks at, symlinks resolved), busybox with its applets (``local_nodes/image.py``, for
``sh`` and the scripts) and ``redis-role.sh``, the script that starts a master, a sentinel or a
replica from the container's environment. Members have fixed owners and mtimes, so the same
host packages always give the same image id, and importing again changes nothing.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import shutil
import subprocess
import tarfile

import docker

from magna.drivers.local_nodes import image

LOG = logging.getLogger(__name__)
REPOSITORY = "magna/redis"
ROLE_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "redis-role.sh")
# NOTE: Debian's redis-check-rdb is the server binary (redis-server, in the package of the same
# name, is only a link to it); it picks its mode from its name, so it is copied as redis-server and
# the sentinel is a link to that.
PROGRAMS = {"redis-check-rdb": "usr/local/bin/redis-server",
            "redis-cli": "usr/local/bin/redis-cli"}
LINKS = {"usr/local/bin/redis-sentinel": "redis-server"}
DIRECTORIES = (("usr", 0o755), ("usr/local", 0o755), ("usr/local/bin", 0o755),
               ("data", 0o777))
CHANGES = ("ENV PATH=/usr/local/bin:/bin", "WORKDIR /data", "EXPOSE 6379 26379",
           'CMD ["redis-role"]')
LIBRARY = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


class RedisMissing(RuntimeError):
    """The host has no Redis to build the image from (``./dev`` installs ``redis-tools``)."""


def program(name: str) -> str:
    """The host's program ``name``, symlinks resolved."""
    found = shutil.which(name)
    if found is None:
        raise RedisMissing(f"{name} is not installed on this host (package redis-tools).")
    return os.path.realpath(found)


def version() -> str:
    """The host Redis's version, e.g. ``7.0.15`` (``redis-cli --version``: one package)."""
    done = subprocess.run([program("redis-cli"), "--version"], capture_output=True,
                          text=True, check=True)
    found = re.search(r"\b(\d+\.\d+\.\d+)", done.stdout)
    if found is None:
        raise RedisMissing(f"Cannot read the Redis version from {done.stdout!r}.")
    return found.group(1)


def name() -> str:
    """The image's name: ``magna/redis:<major version>``, like the official ``redis:7``."""
    return f"{REPOSITORY}:{version().split('.')[0]}"


def libraries(binary: str) -> list[str]:
    """The absolute paths of the shared libraries and loader ``ldd`` says ``binary`` needs."""
    done = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True)
    return library_paths(done.stdout)


def library_paths(ldd_output: str) -> list[str]:
    """The absolute paths in ``ldd``'s answer (``linux-vdso`` has none: the kernel maps it)."""
    return sorted({match.group(1) for match in LIBRARY.finditer(ldd_output)})


def _add_file(tar: tarfile.TarFile, path: str, source: str, mode: int) -> None:
    with open(source, "rb") as handle:
        data = handle.read()
    tar.addfile(image.tar_member(path, tarfile.REGTYPE, mode, len(data)), io.BytesIO(data))


def _add_directories(tar: tarfile.TarFile, paths: list[str], known: set[str]) -> None:
    """Every parent directory of ``paths`` not in ``known`` yet, parents first."""
    for path in paths:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            directory = "/".join(parts[:depth])
            if directory not in known:
                known.add(directory)
                tar.addfile(image.tar_member(directory, tarfile.DIRTYPE, 0o755))


def _copy_busybox(tar: tarfile.TarFile) -> set[str]:
    """busybox's root filesystem into ``tar``; the directories it made."""
    directories = set()
    with tarfile.open(fileobj=io.BytesIO(image.rootfs_tar()), mode="r") as busybox:
        for member in busybox.getmembers():
            content = busybox.extractfile(member) if member.isfile() else None
            tar.addfile(member, content)
            if member.isdir():
                directories.add(member.name)
    return directories


def rootfs_tar() -> bytes:
    """The image's root filesystem as an uncompressed tar archive."""
    binaries = {target: program(source) for source, target in PROGRAMS.items()}
    needed = sorted({lib for binary in binaries.values() for lib in libraries(binary)})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        known = _copy_busybox(tar)
        for path, mode in DIRECTORIES:
            tar.addfile(image.tar_member(path, tarfile.DIRTYPE, mode))
            known.add(path)
        _add_directories(tar, [lib.lstrip("/") for lib in needed], known)
        for lib in needed:
            _add_file(tar, lib.lstrip("/"), os.path.realpath(lib), 0o755)
        for target, source in sorted(binaries.items()):
            _add_file(tar, target, source, 0o755)
        _add_file(tar, "usr/local/bin/redis-role", ROLE_SCRIPT, 0o755)
        for path, target in LINKS.items():
            link = image.tar_member(path, tarfile.SYMTYPE, 0o777)
            link.linkname = target
            tar.addfile(link)
    return buffer.getvalue()


@functools.lru_cache(maxsize=1)
def _cached_rootfs() -> bytes:
    # NOTE: one build per process; every node of every cluster imports the same bytes.
    return rootfs_tar()


def ensure(api: docker.APIClient) -> bool:
    """The engine has the Redis image (imported when missing); False when this host has no
    Redis to build it from (the cluster works without it, the redis example does not)."""
    try:
        tagged = name()
    except RedisMissing as exc:
        LOG.warning("No Redis image for Kubernetes nodes: %s", exc)
        return False
    if not image.present(api, tagged):
        repository, tag = tagged.rsplit(":", 1)
        api.import_image_from_data(_cached_rootfs(), repository=repository, tag=tag,
                                   changes=list(CHANGES))
    return True
