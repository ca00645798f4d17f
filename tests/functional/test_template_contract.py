"""A template with every field set to a value the local driver supports, and a cluster built
from it through the API and a real conductor on which each one is observed: swarm-mode, then
Kubernetes.

This is the template contract end to end (``docs/template-settings.md``): nothing accepted is
without effect. ``volume_driver`` is the one field left unset: no value is supported here (its
refusal is tested in ``test_node_storage.py``). Each field's own tests go deeper; this one shows
them together on one cluster, as a user's template would have them.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver
from magna.drivers.local_nodes import limits, network, teardown
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.conductor import FAST, Stack, conductor_stack, wait_for
from tests.support.kubernetes import bin_dir
from tests.support.local_swarm import brute_force_cleanup, deleted_after

NETWORK = ipaddress.IPv4Network("10.236.0.0/16")
PROXY = "http://proxy.example:3128"
MIB = 1 << 20
GIB = 1 << 30

def _stack(tmp_path: Path, migrated_sqlite: Path, driver: str) -> Iterator[Stack]:
    shutil.copy(migrated_sqlite, tmp_path / "magna.db")
    conf = make_conf(tmp_path, f"sqlite:///{tmp_path / 'magna.db'}",
                     drivers={"enabled_drivers": [driver]}, conductor=FAST,
                     local_nodes={"private_networks": [f"contract={NETWORK}"]})
    with conductor_stack(conf, tmp_path) as running:
        yield running


@pytest.fixture
def stack(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Stack]:
    yield from _stack(tmp_path, migrated_sqlite, "local-swarm")


@pytest.fixture
def kube_stack(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Stack]:
    bin_dir()  # the Kubernetes binaries, built host-wide on first need
    yield from _stack(tmp_path, migrated_sqlite, "local-kubernetes")


def make_keypair(stack: Stack, tmp_path: Path) -> Path:
    key = tmp_path / "contract-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    made = stack.api.post("/v1/keypairs", json={
        "name": "contract-key", "public_key": Path(f"{key}.pub").read_text()})
    assert made.status_code in (200, 201), made.text
    return key


def create(stack: Stack, body: dict[str, Any]) -> str:
    template = stack.api.post("/v1/clustertemplates", json=body)
    assert template.status_code == 201, template.text
    shown = template.json()
    for name, value in body.items():
        assert shown[name] == value, name  # everything asked is stored and shown back
    created = stack.api.post("/v1/clusters", json={
        "name": "contract", "cluster_template_id": shown["uuid"], "master_count": 1,
        "node_count": 1})
    assert created.status_code == 202, created.text
    return str(created.json()["uuid"])


def template_body(keypair: str) -> dict[str, Any]:
    return {
        "name": "contract", "tags": "every-field", "public": True, "hidden": False,
        "coe": "swarm-mode", "image_id": "fedora-atomic-latest", "server_type": "vm",
        "flavor_id": "m1.small", "master_flavor_id": "m1.small", "keypair_id": keypair,
        "dns_nameserver": "10.236.255.53", "external_network_id": "public",
        "fixed_network": "contract", "fixed_subnet": "contract-subnet",
        "floating_ip_enabled": True, "network_driver": "docker", "apiserver_port": 2375,
        "docker_volume_size": 1, "docker_storage_driver": "overlay2",
        "http_proxy": PROXY, "https_proxy": PROXY, "no_proxy": "example.org",
        "registry_enabled": True, "insecure_registry": "10.236.255.1:5001",
        "tls_disabled": False, "master_lb_enabled": True,
        "labels": {"swarm_strategy": "binpack"},
    }


def ssh(key: Path, address: str, command: str, user: str = "fedora") -> str:
    done = subprocess.run(
        ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o",
         "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
         "-o", "LogLevel=ERROR", f"{user}@{address}", command],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, (command, done.stderr)
    return done.stdout


def test_every_field_of_a_template_has_its_effect_on_the_cluster(
        stack: Stack, tmp_path: Path) -> None:
    key = make_keypair(stack, tmp_path)
    uuid = create(stack, template_body("contract-key"))
    driver = LocalSwarmDriver(stack.services.conf)
    with deleted_after(stack, driver, uuid):
        cluster = stack.wait_status(uuid, "CREATE_COMPLETE", timeout=240)
        assert stack.api.get(f"/v1/clustertemplates/{cluster['cluster_template_id']}").json()[
            "cluster_distro"] == "fedora-atomic"
        _observe(stack, driver, cluster, key)


def _on_the_network(driver: LocalSwarmDriver | LocalKubernetesDriver, cluster: dict[str, Any],
                    api: str) -> tuple[str, str, network.Allocation]:
    """fixed_network, fixed_subnet: the nodes' addresses come from the network's CIDR.
    master_lb_enabled, apiserver_port, tls_disabled=false: the API is the load balancer on
    the gateway at ``api`` (scheme://…:port), and it speaks TLS only (plain HTTP gets a 400)."""
    master, worker = cluster["master_addresses"][0], cluster["node_addresses"][0]
    allocation = driver.nodes.allocation(cluster["uuid"])
    assert allocation is not None
    assert allocation.subnet.subnet_of(NETWORK)
    assert all(ipaddress.IPv4Address(a) in NETWORK for a in (master, worker))
    scheme, port = api.split("://")[0], api.rsplit(":", 1)[1]
    assert cluster["api_address"] == f"{scheme}://{allocation.gateway}:{port}"
    plain = httpx.get(f"http://{allocation.gateway}:{port}/version", timeout=10)
    assert plain.status_code == 400 and "HTTPS" in plain.text
    return master, worker, allocation


def _registry_and_flavors(cluster: dict[str, Any], gateway: str) -> None:
    """registry_enabled: the cluster's registry answers on the gateway, busybox pushed there.
    flavor_id, master_flavor_id: every node's memory limit is m1.small's 2048 MiB."""
    catalog = httpx.get(f"http://{gateway}:5000/v2/_catalog", timeout=10).json()
    assert "magna/busybox" in catalog["repositories"]
    for name in ("default-master-0", "default-worker-0"):
        cgroup = f"{teardown.cluster_cgroup(cluster['uuid'])}/{name}"
        assert limits.current(cgroup).memory_bytes == 2048 * MIB


def _observe(stack: Stack, driver: LocalSwarmDriver, cluster: dict[str, Any],
             key: Path) -> None:
    master, worker, allocation = _on_the_network(driver, cluster, "tcp://:2375")
    gateway = str(allocation.gateway)
    # keypair_id, image_id: the image's login user with the key; sudo docker on the node.
    for address in (master, worker):
        info = json.loads(ssh(key, address, "sudo docker info --format '{{json .}}'"))
        # docker_storage_driver, docker_volume_size: the engine's driver, on its own disk.
        assert info["Driver"] == "overlay2"
        size = int(ssh(key, address, "df -k --output=size /var/lib/docker").split()[-1])
        assert 0.9 * GIB < size * 1024 <= GIB
        # image_id: every engine carries the node image's name.
        assert "magna.image=fedora-atomic-latest" in info["Labels"]
        # http_proxy, https_proxy, no_proxy: the engine's and the node's environment, with
        # the cluster itself exempted.
        assert info["HttpProxy"] == info["HttpsProxy"] == PROXY
        assert info["NoProxy"].startswith("example.org,") and str(allocation.subnet) in \
            info["NoProxy"]
        assert f"HTTP_PROXY={PROXY}" in ssh(key, address, "env")
        # registry_enabled, insecure_registry: both are the engine's insecure registries.
        insecure = info["RegistryConfig"]["IndexConfigs"]
        assert f"{gateway}:5000" in insecure and "10.236.255.1:5001" in insecure
        # dns_nameserver: the node's resolver.
        assert "nameserver 10.236.255.53" in ssh(key, address, "cat /etc/resolv.conf")
    _registry_and_flavors(cluster, gateway)
    # external_network_id=public, floating_ip_enabled: the host reaches every node (ssh above).
    # network_driver=docker: an overlay network spans the swarm's nodes.
    overlay = ssh(key, master, "sudo docker network create -d overlay contract-net").strip()
    assert ssh(key, master, "sudo docker network inspect -f '{{.Driver}} {{.Scope}}' "
                            f"{overlay}").split() == ["overlay", "swarm"]
    # labels swarm_strategy=binpack: Magna's containers go to the busiest node, so the second
    # one joins the first.
    hosts = [_container_host(stack, f"box{i}") for i in range(2)]
    assert hosts[0] == hosts[1]


def _container_host(stack: Stack, name: str) -> str:
    created = stack.api.post("/v1/containers", json={
        "name": name, "image": "magna/busybox:latest", "cluster": "contract",
        "command": ["sleep", "600"]})
    assert created.status_code == 202, created.text

    def running() -> dict[str, Any] | None:
        body: dict[str, Any] = stack.api.get(f"/v1/containers/{name}").json()
        return body if body.get("status") == "Running" else None

    box = wait_for(running, 90, f"container {name} Running")
    return str(box["host"])


def test_the_configured_private_network_is_in_the_catalog(stack: Stack) -> None:
    driver = LocalSwarmDriver(stack.services.conf)
    assert {"public", "contract"} <= {net.name for net in driver.catalog.networks()}


def kubernetes_body(keypair: str) -> dict[str, Any]:
    body = template_body(keypair)
    del body["labels"]
    body.update(coe="kubernetes", image_id="fedora-coreos-latest", network_driver="flannel",
                apiserver_port=6443, labels={
                    "kube_tag": "v1.20.2", "flannel_backend": "host-gw",
                    "flannel_network_cidr": "10.100.0.0/16", "flannel_network_subnetlen": "24",
                    "service_cluster_ip_range": "10.254.0.0/16"})
    return body


def test_every_field_of_a_kubernetes_template_has_its_effect_on_the_cluster(
        kube_stack: Stack, tmp_path: Path) -> None:
    key = make_keypair(kube_stack, tmp_path)
    uuid = create(kube_stack, kubernetes_body("contract-key"))
    driver = LocalKubernetesDriver(kube_stack.services.conf)
    try:
        cluster = kube_stack.wait_status(uuid, "CREATE_COMPLETE", timeout=300)
        _observe_kubernetes(driver, cluster, key)
    finally:
        kube_stack.api.delete(f"/v1/clusters/{uuid}")
        try:
            kube_stack.wait_gone(uuid, timeout=180)
        finally:
            brute_force_cleanup(uuid.replace("-", "")[:8])


def _observe_kubernetes(driver: LocalKubernetesDriver, cluster: dict[str, Any],
                        key: Path) -> None:
    master, worker, allocation = _on_the_network(driver, cluster, "https://:6443")
    gateway = str(allocation.gateway)
    assert cluster["coe_version"] == "v1.20.2"  # kube_tag
    # keypair_id, image_id: Fedora CoreOS's user with the key, and sudo.
    for address in (master, worker):
        assert ssh(key, address, "sudo id -u", user="core").strip() == "0"
        # docker_volume_size: the engine's and the kubelet's data on a 1 GiB disk.
        sizes = ssh(key, address, "df -k --output=size /var/lib/docker /var/lib/kubelet",
                    user="core").split()[1:]
        assert len(sizes) == 2 and all(0.9 * GIB < int(k) * 1024 <= GIB for k in sizes)
        # dns_nameserver, proxies in the node's environment.
        assert "nameserver 10.236.255.53" in ssh(key, address, "cat /etc/resolv.conf",
                                                 user="core")
        assert f"HTTPS_PROXY={PROXY}" in ssh(key, address, "env", user="core")
    short = cluster["uuid"].replace("-", "")[:8]
    for socket in sorted(Path(f"/run/magna/{short}").glob("*/docker.sock")):
        info = json.loads(subprocess.run(
            ["docker", "-H", f"unix://{socket}", "info", "--format", "{{json .}}"],
            capture_output=True, text=True, check=True).stdout)
        # docker_storage_driver, image_id, proxies, registries: the node's engine.
        assert info["Driver"] == "overlay2"
        assert "magna.image=fedora-coreos-latest" in info["Labels"]
        assert info["HttpProxy"] == PROXY and str(allocation.subnet) in info["NoProxy"]
        insecure = info["RegistryConfig"]["IndexConfigs"]
        assert f"{gateway}:5000" in insecure and "10.236.255.1:5001" in insecure
    _registry_and_flavors(cluster, gateway)
    # network_driver=flannel (host-gw), flannel_* labels: the master routes the worker's
    # pod subnet (10.100.x.0/24) through the worker's address, without encapsulation.
    routes = ssh(key, master, "ip route", user="core")
    assert any(line.startswith("10.100.") and line.split()[1:3] == ["via", worker]
               for line in routes.splitlines()), routes
