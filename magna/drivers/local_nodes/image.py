"""A workload image that needs no internet: busybox-static turned into a Docker image.

Nodes cannot pull from a public registry (they have no route beyond the host), so a fresh
cluster would have nothing to run. ``rootfs_tar`` builds, in memory, the smallest root
filesystem that is useful: the host's static ``/bin/busybox``, a symlink per applet in ``/bin``
(``sh``, ``httpd``, ``wget``, ...), ``/etc/passwd`` and ``/etc/group`` (root and nobody),
a world-writable ``/tmp`` and a ``/www/index.html`` to serve. ``load`` imports it into an engine
as ``magna/busybox:latest`` (one layer, about 2 MB).

Every member has a fixed owner and mtime, so the same busybox always gives the same layer and
image id: importing again is a no-op for the engine and ``present`` is a cheap check.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import subprocess
import tarfile

import docker

BUSYBOX = "/bin/busybox"
REPOSITORY = "magna/busybox"
TAG = "latest"
NAME = f"{REPOSITORY}:{TAG}"
CHANGES = ('CMD ["sh"]',)
INDEX = (b"<!doctype html>\n<title>magna</title>\n"
         b"<h1>Hello from a Magna cluster</h1>\n<p>Served by busybox httpd.</p>\n")
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = b"root:x:0:\nnobody:x:65534:\n"
MTIME = 1_700_000_000  # NOTE: fixed, so identical content gives an identical layer


def applets(busybox: str = BUSYBOX) -> list[str]:
    """The applet names this busybox binary provides (``busybox --list``)."""
    done = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    return sorted(name for name in done.stdout.split() if name and "/" not in name)


def rootfs_tar(busybox: str = BUSYBOX) -> bytes:
    """The image's root filesystem as an uncompressed tar archive."""
    with open(busybox, "rb") as handle:
        binary = handle.read()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777),
                           ("www", 0o755)):
            tar.addfile(tar_member(path, tarfile.DIRTYPE, mode))
        tar.addfile(tar_member("bin/busybox", tarfile.REGTYPE, 0o755, len(binary)),
                    io.BytesIO(binary))
        for name in applets(busybox):
            if name != "busybox":
                link = tar_member(f"bin/{name}", tarfile.SYMTYPE, 0o777)
                link.linkname = "busybox"
                tar.addfile(link)
        for path, data in (("etc/passwd", PASSWD), ("etc/group", GROUP),
                           ("www/index.html", INDEX)):
            tar.addfile(tar_member(path, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return buffer.getvalue()


def tar_member(path: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def present(api: docker.APIClient, name: str = NAME) -> bool:
    try:
        api.inspect_image(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def load(api: docker.APIClient, data: bytes) -> None:
    """Import the root filesystem into the engine as ``magna/busybox:latest``."""
    api.import_image_from_data(data, repository=REPOSITORY, tag=TAG, changes=list(CHANGES))


def ensure(api: docker.APIClient) -> None:
    """The engine has ``magna/busybox:latest`` (imported when missing)."""
    if not present(api):
        load(api, _current_tar(BUSYBOX))


def _current_tar(busybox: str) -> bytes:
    """``rootfs_tar`` made once per busybox binary (its identity and change time): nodes
    import it side by side while the driver does other work, and making it (``busybox
    --list`` and some 400 tar members) in every thread held the interpreter from that work."""
    found = os.stat(busybox)
    return _tar_of(busybox, found.st_ino, found.st_size, found.st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _tar_of(busybox: str, inode: int, size: int, mtime_ns: int) -> bytes:
    return rootfs_tar(busybox)


def note(registry_image: str | None) -> str:
    """The cluster event that tells the user which images run without the internet."""
    text = (f"Nodes cannot pull from public registries. Every node has the image {NAME} "
            f"(busybox; e.g. httpd -f -p 8080 -h /www serves a page)")
    if registry_image:
        return (f"{text}, and the cluster's registry {registry_image.split('/')[0]} holds "
                f"{registry_image}: push your own images there.")
    return text + "."
