"""A swarm-mode template with every field set to a value the local driver supports, and a
cluster built from it through the API and a real conductor on which each one is observed.

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

from magna.drivers.local_nodes import limits, teardown
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.functional.test_local_swarm import deleted_after
from tests.support.conductor import FAST, Stack, conductor_stack, wait_for

NETWORK = ipaddress.IPv4Network("10.236.0.0/16")
PROXY = "http://proxy.example:3128"
MIB = 1 << 20
GIB = 1 << 30

@pytest.fixture
def stack(tmp_path: Path, migrated_sqlite: Path) -> Iterator[Stack]:
    shutil.copy(migrated_sqlite, tmp_path / "magna.db")
    conf = make_conf(tmp_path, f"sqlite:///{tmp_path / 'magna.db'}",
                     drivers={"enabled_drivers": ["local-swarm"]}, conductor=FAST,
                     local_nodes={"private_networks": [f"contract={NETWORK}"]})
    with conductor_stack(conf, tmp_path) as running:
        yield running


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


def ssh(key: Path, address: str, command: str) -> str:
    done = subprocess.run(
        ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o",
         "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
         "-o", "LogLevel=ERROR", f"fedora@{address}", command],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, (command, done.stderr)
    return done.stdout


def test_every_field_of_a_template_has_its_effect_on_the_cluster(
        stack: Stack, tmp_path: Path) -> None:
    key = tmp_path / "contract-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    made = stack.api.post("/v1/keypairs", json={
        "name": "contract-key", "public_key": Path(f"{key}.pub").read_text()})
    assert made.status_code in (200, 201), made.text
    template = stack.api.post("/v1/clustertemplates", json=template_body("contract-key"))
    assert template.status_code == 201, template.text
    shown = template.json()
    for name, value in template_body("contract-key").items():
        assert shown[name] == value, name  # everything asked is stored and shown back
    assert shown["cluster_distro"] == "fedora-atomic"
    created = stack.api.post("/v1/clusters", json={
        "name": "contract", "cluster_template_id": shown["uuid"], "master_count": 1,
        "node_count": 1})
    assert created.status_code == 202, created.text
    uuid = created.json()["uuid"]
    driver = LocalSwarmDriver(stack.services.conf)
    with deleted_after(stack, driver, uuid):
        cluster = stack.wait_status(uuid, "CREATE_COMPLETE", timeout=240)
        _observe(stack, driver, cluster, key)


def _observe(stack: Stack, driver: LocalSwarmDriver, cluster: dict[str, Any],
             key: Path) -> None:
    master, worker = cluster["master_addresses"][0], cluster["node_addresses"][0]
    allocation = driver.nodes.allocation(cluster["uuid"])
    assert allocation is not None
    gateway = str(allocation.gateway)
    # fixed_network, fixed_subnet: the nodes' addresses come from the network's CIDR.
    assert allocation.subnet.subnet_of(NETWORK)
    assert all(ipaddress.IPv4Address(a) in NETWORK for a in (master, worker))
    # master_lb_enabled, apiserver_port, tls_disabled=false: the API is the load balancer on
    # the gateway at 2375, and it speaks TLS only (a plain HTTP request is answered with 400).
    assert cluster["api_address"] == f"tcp://{gateway}:2375"
    plain = httpx.get(f"http://{gateway}:2375/_ping", timeout=10)
    assert plain.status_code == 400 and "HTTPS" in plain.text
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
    # registry_enabled: the cluster's registry answers on the gateway, busybox pushed there.
    catalog = httpx.get(f"http://{gateway}:5000/v2/_catalog", timeout=10).json()
    assert "magna/busybox" in catalog["repositories"]
    # flavor_id, master_flavor_id: every node's memory limit is m1.small's 2048 MiB.
    for name in ("default-master-0", "default-worker-0"):
        cgroup = f"{teardown.cluster_cgroup(cluster['uuid'])}/{name}"
        assert limits.current(cgroup).memory_bytes == 2048 * MIB
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
