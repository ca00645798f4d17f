"""Users' containers on a local Swarm cluster's engines (the driver's ``ContainerHosting``).

Every call talks to a node's dockerd over mutual TLS (``tcp://<node ip>:2375``) with a client
certificate signed by the cluster's CA, kept in ``<cluster dir>/containers-client/`` and made on
first use (the conductor and, for exec and logs, the API process share it; both run on the host
that owns the cluster's bridge). Nothing here touches the swarm itself: containers are plain
engine containers, which is what ``docker run`` against a node does.

- Placement: the cluster's ``swarm_strategy`` label (``placement.py``) weighs each answering
  node's count of Magna containers (labels ``magna.container`` / ``magna.cluster``): spread
  (the default) takes the fewest, binpack the most, random a seeded draw; ties go to the first
  node, masters first.
- Names: the engine container is ``magna-<uuid>``, so a pass repeated after a crash between
  "created" and "recorded" finds it instead of making a second one.
- Images are never pulled from a public registry: an image missing on the node is an error,
  unless its reference names a registry at a private IP address (the cluster's registry).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Iterator, Sequence
from typing import Any

import docker
import requests
from docker.models.containers import Container

from magna.common.exceptions import (
    Conflict,
    PermanentError,
    TemporaryError,
    TemporaryFailure,
)
from magna.drivers.base import (
    ContainerHosting,
    ContainerObserved,
    ContainerPlace,
    ContainerSpec,
    ExecResult,
)
from magna.drivers.local_nodes import pki
from magna.drivers.local_swarm import placement, swarm

LABEL = "magna.container"
CLUSTER_LABEL = "magna.cluster"
CALL_TIMEOUT = 30.0
STOP_SECONDS = 10
# NOTE: a started container is watched this long before its state is recorded, so a command
# that exits at once is recorded Stopped with its exit code, not as the Running it was for a
# few milliseconds (the next refresh would correct it, but a --wait settles on the first).
START_GRACE = 1.0
MAX_OUTPUT = 1 << 20
UNREACHABLE = (docker.errors.DockerException, requests.RequestException, OSError)


def engine_name(container: ContainerSpec) -> str:
    return f"magna-{container.uuid}"


def pull_allowed(image: str) -> bool:
    """Only from a registry named by a private IP address (a cluster registry)."""
    first, _, rest = image.partition("/")
    if not rest:
        return False
    host = first.rsplit(":", 1)[0] if first.count(":") == 1 else first
    try:
        return ipaddress.ip_address(host.strip("[]")).is_private
    except ValueError:
        return False


def observed_from(found: Container, host: str) -> ContainerObserved:
    state: dict[str, Any] = found.attrs.get("State", {})
    status = str(state.get("Status", ""))
    exit_code: int | None = None
    reason = str(state.get("Error") or "") or None
    if status == "running":
        shown = "Paused" if state.get("Paused") else (
            "Restarting" if state.get("Restarting") else "Running")
    elif status == "exited":
        shown, exit_code = "Stopped", int(state.get("ExitCode", 0))
        reason = reason or f"Exited with code {exit_code}."
    else:
        shown = {"created": "Created", "paused": "Paused", "restarting": "Restarting",
                 "removing": "Deleting", "dead": "Error"}.get(status, "Unknown")
    return ContainerObserved(status=shown, engine_id=found.id, host=host,
                             exit_code=exit_code, reason=reason)


class LocalContainers(ContainerHosting):
    """Mixed into ``LocalSwarmDriver``, which provides ``root`` (its state directory)."""

    root: str

    # -- engines ----------------------------------------------------------------------------

    def _files(self, place: ContainerPlace) -> pki.CertFiles | None:
        if place.tls_disabled:
            return None
        cluster_dir = os.path.join(self.root, place.cluster_uuid)
        if not os.path.isdir(cluster_dir):
            raise PermanentError("The cluster's engines are gone from this host.")
        files = pki.CertFiles(os.path.join(cluster_dir, "containers-client"), "")
        pki.ensure(files, pki.admin_request(), place.pki)
        return files

    @contextlib.contextmanager
    def _engine(self, place: ContainerPlace, address: str) -> Iterator[docker.DockerClient]:
        client = swarm.connect(address, self._files(place), CALL_TIMEOUT)
        try:
            yield client
        finally:
            client.close()

    def _find(self, place: ContainerPlace, container: ContainerSpec,
              clients: contextlib.ExitStack) -> tuple[str, Container] | None:
        """The engine container and its node, looked up where it was recorded or, when no node
        was recorded yet (a crash after creating it), on every node by its name. The clients
        stay open in ``clients`` for the caller's further calls."""
        where = [container.host] if container.host else list(place.nodes)
        for address in where:
            if address not in place.nodes:
                continue  # the node was removed, and the container with it
            client = clients.enter_context(self._engine(place, address))
            with contextlib.suppress(docker.errors.NotFound):
                return address, client.containers.get(container.engine_id
                                                      or engine_name(container))
        return None

    # -- the ability ------------------------------------------------------------------------

    def converge_container(self, place: ContainerPlace,
                           container: ContainerSpec) -> ContainerObserved:
        try:
            with contextlib.ExitStack() as clients:
                found = self._find(place, container, clients) or self._create(
                    place, container, clients)
                address, engine_container = found
                reason = _bring_to(engine_container, container)
                engine_container.reload()
        except docker.errors.APIError as exc:
            if exc.status_code is not None and exc.status_code < 500:
                raise PermanentError(f"The engine refused: {exc.explanation}") from None
            raise TemporaryError(f"The engine failed: {exc.explanation}", delay=2.0) from None
        except UNREACHABLE as exc:
            raise TemporaryError(f"The cluster's engines are not answering: {exc}",
                                 delay=2.0) from None
        observed = observed_from(engine_container, address)
        if reason:
            return ContainerObserved(status=observed.status, engine_id=observed.engine_id,
                                     host=address, exit_code=observed.exit_code, reason=reason)
        return observed

    def observe_container(self, place: ContainerPlace,
                          container: ContainerSpec) -> ContainerObserved:
        try:
            with contextlib.ExitStack() as clients:
                found = self._find(place, container, clients)
        except UNREACHABLE as exc:
            raise TemporaryError(f"The engine of {container.host} is not answering: {exc}",
                                 delay=5.0) from None
        if found is None:
            return ContainerObserved(status="Error", reason="The container is gone from its "
                                                            f"engine ({container.host}).")
        return observed_from(found[1], found[0])

    def remove_container(self, place: ContainerPlace, container: ContainerSpec) -> None:
        try:
            with contextlib.ExitStack() as clients:
                found = self._find(place, container, clients)
                if found is not None:
                    found[1].remove(force=True)
        except docker.errors.NotFound:
            return
        except UNREACHABLE as exc:
            raise TemporaryError(f"Removing the container is not finished: {exc}",
                                 delay=2.0) from None

    def exec_in_container(self, place: ContainerPlace, container: ContainerSpec,
                          command: Sequence[str]) -> ExecResult:
        with _answering(container), contextlib.ExitStack() as clients:
            found = self._running(place, container, clients)
            result = found.exec_run(list(command), stdout=True, stderr=True)
            output = bytes(result.output or b"")[:MAX_OUTPUT]
            return ExecResult(exit_code=int(result.exit_code or 0),
                              output=output.decode("utf-8", "replace"))

    def container_logs(self, place: ContainerPlace, container: ContainerSpec,
                       tail: int | None) -> str:
        with _answering(container), contextlib.ExitStack() as clients:
            found = self._find(place, container, clients)
            if found is None:
                raise Conflict(f"Container {container.name} is gone from its engine.")
            raw = found[1].logs(stdout=True, stderr=True,
                                tail="all" if tail is None else tail)
            return bytes(raw)[-MAX_OUTPUT:].decode("utf-8", "replace")

    # -- steps ------------------------------------------------------------------------------

    def _running(self, place: ContainerPlace, container: ContainerSpec,
                 clients: contextlib.ExitStack) -> Container:
        found = self._find(place, container, clients)
        if found is None:
            raise Conflict(f"Container {container.name} is gone from its engine.")
        state = found[1].attrs.get("State", {})
        if state.get("Status") != "running" or state.get("Paused"):
            raise Conflict(f"Container {container.name} is not running "
                           f"({observed_from(found[1], found[0]).status}).")
        return found[1]

    def _create(self, place: ContainerPlace, container: ContainerSpec,
                clients: contextlib.ExitStack) -> tuple[str, Container]:
        address = self._placed(place, container)
        client = clients.enter_context(self._engine(place, address))
        _ensure_image(client, container.image, address)
        created = client.containers.create(
            container.image, command=list(container.command) or None,
            name=engine_name(container), environment=dict(container.environment),
            mem_limit=f"{container.memory_mb}m" if container.memory_mb else None,
            labels={LABEL: container.uuid, CLUSTER_LABEL: place.cluster_uuid},
            detach=True)
        return address, created

    def _placed(self, place: ContainerPlace, container: ContainerSpec) -> str:
        """The node the cluster's ``swarm_strategy`` picks among the engines that answer."""
        loads = []
        for address in place.nodes:
            with contextlib.suppress(*UNREACHABLE), self._engine(place, address) as client:
                loads.append(placement.Load(address, len(client.containers.list(
                    all=True, filters={"label": LABEL}))))
        if not loads:
            raise TemporaryError("No engine of the cluster is answering.", delay=5.0)
        return placement.choose(placement.strategy_of(place.labels), loads,
                                seed=container.uuid)


def _ensure_image(client: docker.DockerClient, image: str, address: str) -> None:
    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    if not pull_allowed(image):
        raise PermanentError(f"No such image: {image} on node {address}. Magna never pulls "
                             "from public registries: load the image into the nodes' engines "
                             "or push it to the cluster's registry and name it there.")
    client.images.pull(image)


def _bring_to(found: Container, container: ContainerSpec) -> str | None:
    """Move the engine container towards ``container.desired``; a reason if it cannot."""
    state = found.attrs.get("State", {})
    running = state.get("Status") == "running"
    paused = bool(state.get("Paused"))
    if container.desired in ("running", "stopped") and paused:
        found.unpause()
    if container.desired == "running":
        if running and container.reboot:
            found.restart(timeout=STOP_SECONDS)
            _watch_start(found)
        elif not running:
            found.start()
            _watch_start(found)
    elif container.desired == "stopped" and running:
        found.stop(timeout=STOP_SECONDS)
    elif container.desired == "paused" and not paused:
        if not running:
            return "Cannot pause: the container is not running."
        found.pause()
    return None


def _watch_start(found: Container) -> None:
    """Wait up to ``START_GRACE`` for a just-started container to exit; most will not."""
    with contextlib.suppress(requests.RequestException):
        found.wait(timeout=START_GRACE)


@contextlib.contextmanager
def _answering(container: ContainerSpec) -> Iterator[None]:
    """exec and logs answer within a request: engine trouble becomes 409 or 503."""
    try:
        yield
    except docker.errors.NotFound:
        raise Conflict(f"Container {container.name} is gone from its engine.") from None
    except docker.errors.APIError as exc:
        raise Conflict(f"The engine refused: {exc.explanation}") from None
    except PermanentError as exc:
        raise Conflict(exc.message) from None
    except UNREACHABLE as exc:
        raise TemporaryFailure(f"The engine at {container.host} is not answering: {exc}"
                               ) from None
