"""The seal plugin as a real process: one per root, one unix socket per node directory, Docker's
authorization protocol over HTTP/1.1 with keep-alive, nodes added and removed while it runs, a
clean SIGTERM; and a real dockerd (own mount namespace, own data and exec roots, unix socket
only) that refuses the attacks through it while the CLI's and the conductor's calls work."""

from __future__ import annotations

import base64
import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import docker as docker_sdk
import h11
import httpx
import pytest

from magna.common.exceptions import TemporaryError
from magna.drivers.engine_guard import service as seal_service
from magna.drivers.local_nodes import image

PRIVILEGED = {"Image": "busybox", "HostConfig": {"Privileged": True}}
PLAIN = {"Image": "busybox", "HostConfig": {"Binds": ["data:/data"]}}


@pytest.fixture
def root() -> Iterator[str]:
    # NOTE: short on purpose: <root>/<node>/authz.sock must fit a unix socket path
    path = tempfile.mkdtemp(prefix="seal-", dir="/tmp")
    yield path
    seal_service.stop(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def plugin(root: str) -> int:
    return seal_service.ensure_running(root)


def make_authz(method: str, uri: str, body: Any = None, user: str = "tenant") -> dict[str, Any]:
    request: dict[str, Any] = {"User": user, "UserAuthNMethod": "TLS", "RequestMethod": method,
                               "RequestUri": uri, "RequestHeaders": {}}
    if body is not None:
        request["RequestBody"] = base64.b64encode(json.dumps(body).encode()).decode()
    return request


def call(path: str, target: str, payload: Any = None) -> tuple[int, dict[str, Any]]:
    transport = httpx.HTTPTransport(uds=path)
    with httpx.Client(transport=transport, base_url="http://plugin", timeout=5) as client:
        reply = client.post(target, json=payload)
    assert reply.headers["content-type"] == "application/vnd.docker.plugins.v1+json"
    return reply.status_code, reply.json()


def exchange(sock: socket.socket, conn: h11.Connection, target: str,
             payload: Any) -> dict[str, Any]:
    """One request and its reply on an open connection (h11 as the client)."""
    data = json.dumps(payload).encode()
    sock.sendall(conn.send(h11.Request(method="POST", target=target, headers=[
        ("Host", "plugin"), ("Content-Length", str(len(data)))])) or b"")
    sock.sendall(conn.send(h11.Data(data=data)) or b"")
    sock.sendall(conn.send(h11.EndOfMessage()) or b"")
    body = b""
    while not isinstance(event := conn.next_event(), h11.EndOfMessage):
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, h11.Data):
            body += event.data
    conn.start_next_cycle()
    reply: dict[str, Any] = json.loads(body)
    return reply


def wait_for(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def gone(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # the test started the plugin: reap it
    return not os.path.exists(f"/proc/{pid}")


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def log_of(root: str) -> str:
    return read_text(os.path.join(root, seal_service.LOG_FILE))


def test_each_node_gets_its_socket_and_the_protocol(root: str, plugin: int) -> None:
    first = seal_service.socket_dir(root, "n1")
    second = seal_service.socket_dir(root, "n2")
    assert first == os.path.join(root, "n1") and os.path.isdir(second)
    for directory in (first, second):
        sock = os.path.join(directory, "authz.sock")
        assert call(sock, "/Plugin.Activate") == (200, {"Implements": ["authz"]})
        assert call(sock, "/AuthZPlugin.AuthZRes", {"ResponseStatusCode": 201}) == (
            200, {"Allow": True})
    sock = os.path.join(second, "authz.sock")
    create = "/v1.41/containers/create"
    assert call(sock, "/AuthZPlugin.AuthZReq", make_authz("POST", create, PRIVILEGED)) == (
        200, {"Allow": False, "Msg": "This cluster does not allow privileged containers."})
    assert call(sock, "/AuthZPlugin.AuthZReq", make_authz("POST", create, PLAIN)) == (
        200, {"Allow": True, "Msg": ""})
    assert call(sock, "/Nope")[0] == 404
    assert wait_for(lambda: "refused node=n2 user=tenant POST /v1.41/containers/create: This "
                            "cluster does not allow privileged containers." in log_of(root))
    assert "node=n1" not in log_of(root).split("refused", 1)[1]
    assert seal_service.ensure_running(root) == plugin
    assert seal_service.answers(root)


def test_one_connection_carries_many_requests(root: str, plugin: int) -> None:
    path = os.path.join(seal_service.socket_dir(root, "n1"), "authz.sock")
    conn = h11.Connection(h11.CLIENT)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        assert exchange(sock, conn, "/Plugin.Activate", {}) == {"Implements": ["authz"]}
        for _ in range(3):
            ping = exchange(sock, conn, "/AuthZPlugin.AuthZReq", make_authz("HEAD", "/_ping"))
            assert ping == {"Allow": True, "Msg": ""}
        pull = make_authz("POST", "/v1.41/plugins/pull?remote=vieux%2Fsshfs")
        assert exchange(sock, conn, "/AuthZPlugin.AuthZReq", pull)["Allow"] is False


def test_nodes_come_and_go_while_it_runs(root: str, plugin: int) -> None:
    old = os.path.join(seal_service.socket_dir(root, "n1"), "authz.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as held:
        held.settimeout(5)
        held.connect(old)
        later = seal_service.socket_dir(root, "n3", timeout=5)
        assert call(os.path.join(later, "authz.sock"), "/Plugin.Activate")[0] == 200
        seal_service.forget(root, "n1")
        assert not os.path.exists(os.path.join(root, "n1"))
        assert held.recv(1) == b"", "the removed node's connection stays open"
    assert wait_for(lambda: "node=n1: directory gone, listener closed" in log_of(root))
    os.makedirs(os.path.join(root, "n1"))
    assert wait_for(lambda: seal_service.probe(old))


def test_a_missing_plugin_is_named(root: str) -> None:
    with pytest.raises(TemporaryError, match="seal plugin magna-seal is not serving node n1"):
        seal_service.socket_dir(root, "n1", timeout=0.3)
    with pytest.raises(ValueError):
        seal_service.socket_dir(root, "../n1")


def test_sigterm_leaves_no_socket_and_no_process(root: str, plugin: int) -> None:
    seal_service.socket_dir(root, "n1")
    seal_service.socket_dir(root, "n2")
    seal_service.stop(root)
    assert gone(plugin)
    assert glob.glob(os.path.join(root, "**", "*.sock"), recursive=True) == []
    assert not os.path.exists(os.path.join(root, seal_service.PID_FILE))
    assert "stopped" in log_of(root)
    assert seal_service.running(root) is None and not seal_service.answers(root)


def test_it_stops_when_its_root_is_removed(root: str, plugin: int) -> None:
    seal_service.socket_dir(root, "n1")
    shutil.rmtree(root)
    assert wait_for(lambda: gone(plugin))


# --- a real dockerd ------------------------------------------------------------------------------

@contextlib.contextmanager
def sealed_dockerd(base: str, socket_dir: str) -> Iterator[str]:
    """A dockerd that knows ``magna-seal`` only inside its own mount namespace (a private
    /etc/docker); yields its API socket and stops it by pid."""
    etc = os.path.join(base, "etc-docker")
    os.makedirs(os.path.join(etc, "plugins"))
    with open(os.path.join(etc, "plugins", "magna-seal.spec"), "w", encoding="ascii") as spec:
        spec.write(f"unix://{socket_dir}/authz.sock\n")
    api = os.path.join(base, "docker.sock")
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/docker && exec "$@"', etc,
            "dockerd", f"--data-root={base}/data", f"--exec-root={base}/exec",
            f"--pidfile={base}/docker.pid", f"--host=unix://{api}", "--bridge=none",
            "--iptables=false", "--oom-score-adjust=0",
            f"--config-file={etc}/daemon.json", "--authorization-plugin=magna-seal"]
    with open(os.path.join(etc, "daemon.json"), "w", encoding="ascii") as config:
        config.write("{}\n")
    with open(os.path.join(base, "dockerd.log"), "ab") as log:
        engine = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
    try:
        yield api
    finally:
        engine.send_signal(signal.SIGTERM)
        try:
            engine.wait(20)
        except subprocess.TimeoutExpired:
            engine.kill()
            engine.wait(10)


def docker(api: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "-H", f"unix://{api}", *args], capture_output=True,
                          text=True, timeout=60, check=False)


NEEDS_ENGINE = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("dockerd") is None or shutil.which("docker") is None
    or shutil.which("unshare") is None, reason="needs root, docker.io, the docker CLI, unshare")


@pytest.fixture
def engine(root: str, plugin: int) -> Iterator[str]:
    """A sealed dockerd's API socket (the plugin serves it as node d1)."""
    base = tempfile.mkdtemp(prefix="sealed-", dir="/tmp")
    try:
        with sealed_dockerd(base, seal_service.socket_dir(root, "d1")) as api:
            assert wait_for(lambda: docker(api, "version").returncode == 0, timeout=60), \
                read_text(os.path.join(base, "dockerd.log"))[-3000:]
            yield api
            for name in docker(api, "ps", "-aq").stdout.split():
                docker(api, "rm", "-f", name)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.docker
@NEEDS_ENGINE
def test_a_real_engine_refuses_what_breaks_the_seal(root: str, engine: str) -> None:
    assert "20.10" in docker(engine, "version", "--format", "{{.Server.Version}}").stdout
    refused = docker(engine, "run", "--rm", "--privileged", "busybox", "true")
    assert refused.returncode == 125
    assert ("authorization denied by plugin magna-seal: This cluster does not allow "
            "privileged containers.") in refused.stderr
    for args, words in ((["-v", "/:/host"], "bind mounts of host paths (/)"),
                        (["--pid=host"], "PidMode=host"), (["--cap-add=ALL"], "ALL"),
                        (["--device", "/dev/null:/dev/x"], "host devices")):
        assert words in docker(engine, "run", "--rm", *args, "busybox", "true").stderr
    assert "volume driver options" in docker(engine, "volume", "create", "-o", "o=bind",
                                              "-o", "device=/", "-o", "type=none").stderr
    assert "refused node=d1 user=- POST /v1.41/containers/create" in log_of(root)
    # bypass 1 of the probe: a service spec in a body dockerd does not show the plugin
    transport = httpx.HTTPTransport(uds=engine)
    with httpx.Client(transport=transport, base_url="http://docker") as client:
        hidden = client.post("/v1.41/services/create", content=b'{"Name":"x"}',
                             headers={"Content-Type": "text/plain"})
        encoded = client.post("/v1.41/%63ontainers/create", json={
            "Image": "busybox", "hostconfig": {"binds": ["/:/host"]}})
        # dockerd 20.10 reads host settings from the top level when HostConfig is absent,
        # and applies a HostConfig sent to start under API versions before 1.24
        top = client.post("/v1.41/containers/create", json={
            "Image": "busybox", "Binds": ["/:/host"], "Privileged": True})
        old = client.post("/v1.23/containers/x/start", json={"Binds": ["/:/host"]})
    assert hidden.status_code == 403 and "without a JSON body" in hidden.json()["message"]
    assert encoded.status_code == 403 and "bind mounts" in encoded.json()["message"]
    assert top.status_code == 403 and "privileged containers" in top.json()["message"]
    assert old.status_code == 403 and "older than 1.40" in old.text  # plain text before 1.24


@pytest.mark.docker
@NEEDS_ENGINE
def test_a_real_engine_lets_users_and_the_conductor_work(engine: str) -> None:
    client = docker_sdk.APIClient(base_url=f"unix://{engine}", version="auto", timeout=30)
    image.load(client, image.rootfs_tar())  # the conductor's import (images/create fromSrc)
    assert image.present(client)
    run = docker(engine, "run", "--rm", "--network", "none", "-v", "data:/data", "-e", "A=1",
                 image.NAME, "sh", "-c", "echo $A > /data/x && cat /data/x")
    assert (run.returncode, run.stdout) == (0, "1\n"), run.stderr
    created = client.create_container(image.NAME, command=["sleep", "60"], name="m-1",
                                      environment={"A": "2"}, labels={"magna": "x"},
                                      host_config=client.create_host_config(
                                          mem_limit="64m", network_mode="none"))
    client.start(created["Id"])
    exec_id = client.exec_create(created["Id"], ["sh", "-c", "echo $A"])["Id"]
    assert client.exec_start(exec_id) == b"2\n"
    assert docker(engine, "exec", "m-1", "echo", "hi").stdout == "hi\n"
    assert docker(engine, "logs", "m-1").returncode == 0
    client.tag(image.NAME, "127.0.0.1:5000/magna/busybox", "latest")
    with tempfile.TemporaryDirectory() as context:
        with open(os.path.join(context, "Dockerfile"), "w", encoding="ascii") as dockerfile:
            dockerfile.write(f"FROM {image.NAME}\nRUN echo built > /f\n")
        build = docker(engine, "build", "--network", "none", "-t", "t1", context)
    assert build.returncode == 0, build.stderr
    assert docker(engine, "run", "--rm", "--network", "none", "t1", "cat", "/f").stdout == \
        "built\n"
    client.stop(created["Id"], timeout=1)
    client.remove_container(created["Id"], force=True)
    client.close()


def test_it_stops_when_the_last_node_is_forgotten(root: str, plugin: int) -> None:
    seal_service.socket_dir(root, "n1")
    seal_service.socket_dir(root, "n2")
    seal_service.forget(root, "n1")
    assert not seal_service.stop_if_unused(root)
    assert seal_service.running(root) == plugin
    seal_service.forget(root, "n2")
    assert seal_service.stop_if_unused(root)
    assert gone(plugin) and seal_service.running(root) is None
