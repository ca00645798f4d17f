"""The images every Kubernetes node has before its kubelet starts, with nothing pulled.

kubelet (dockershim) starts every pod with a sandbox container of the "pause" image. It comes
from the same Kubernetes build as the binaries (``build.sh`` compiles its one static program,
``pause``), imported into each node's engine as ``magna/pause:3.2`` (kubelet is told that name).
Workloads get ``magna/busybox:latest`` as swarm-mode nodes do (``local_nodes/image.py``) and
``magna/redis:<major>`` for the guides' redis example (``redis_image.py``). Each import is
skipped when the engine has the image already.
"""

from __future__ import annotations

import io
import tarfile

import docker

from magna.drivers.local_kubernetes import layout, redis_image
from magna.drivers.local_nodes import image

PAUSE_CHANGES = ('ENTRYPOINT ["/pause"]',)


def pause_tar(pause_binary: str) -> bytes:
    """A root filesystem holding only ``/pause``."""
    with open(pause_binary, "rb") as handle:
        binary = handle.read()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(image.tar_member("pause", tarfile.REGTYPE, 0o755, len(binary)),
                    io.BytesIO(binary))
    return buffer.getvalue()


def ensure(api: docker.APIClient, pause_binary: str) -> None:
    """The engine has the pause, busybox and Redis images."""
    if not image.present(api, layout.PAUSE_IMAGE):
        repository, tag = layout.PAUSE_IMAGE.rsplit(":", 1)
        api.import_image_from_data(pause_tar(pause_binary), repository=repository, tag=tag,
                                   changes=list(PAUSE_CHANGES))
    image.ensure(api)
    redis_image.ensure(api)
