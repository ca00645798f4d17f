"""The pure parts of the local Kubernetes driver: who gets which certificate, the command lines
of the Kubernetes programs, the pod and service ranges from Magnum's labels, the pod network of
a node, and the engine configuration a Kubernetes node gets (the real thing:
functional/test_local_kubernetes.py)."""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from magna.common.exceptions import PermanentError
from magna.drivers.base import ClusterSpec, NodeGroupSpec
from magna.drivers.local_kubernetes import agents, credentials, layout, podnet
from magna.drivers.local_kubernetes.driver import (
    PINNED_SYSCTLS,
    LocalKubernetesDriver,
    addressing_of,
    engine_options,
)
from magna.drivers.local_nodes import engine
from tests.conftest import make_conf

MASTERS = (agents.Member("k-default-master-0", "10.9.0.2"),
           agents.Member("k-default-master-1", "10.9.0.3"),
           agents.Member("k-default-master-2", "10.9.0.4"))
CONTROL_PLANE_CERTS = {"apiserver", "apiserver-kubelet-client", "controller-manager",
                       "scheduler", "etcd"}


def flags(argv: Sequence[str]) -> dict[str, str]:
    """``--name=value`` flags of a command line (a flag given twice would be lost: checked)."""
    pairs = [arg[2:].split("=", 1) for arg in argv if arg.startswith("--")]
    found = {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
    assert len(found) == len(pairs), f"a flag is given twice: {argv}"
    return found


def issued(master: bool, api_names: Sequence[str] = ("10.254.0.1",)
           ) -> dict[str, credentials.Issued]:
    plan = credentials.plan(hostname="k-n-0", address="10.9.0.2", master=master,
                            api_names=api_names)
    return {item.name: item for item in plan}


def make_spec(**labels: str) -> ClusterSpec:
    master = NodeGroupSpec(uuid="m", name="default-master", role="master", node_count=1,
                           flavor_id="m1.small", image_id=None)
    return ClusterSpec(uuid="c", name="k", project_id="p", coe="kubernetes", generation=1,
                       template_uuid="t", image_id="fedora-coreos-latest", labels=labels,
                       nodegroups=(master,))


def make_addressing(**labels: str) -> layout.Addressing:
    return addressing_of(labels)


# -- certificates -------------------------------------------------------------------------------

def test_a_masters_api_server_answers_to_its_service_ip_its_address_and_the_balancer() -> None:
    sans = set(issued(True, ("10.254.0.1", "10.9.0.1"))["apiserver"].request.sans)
    assert {"10.254.0.1", "10.9.0.1", "10.9.0.2", "127.0.0.1"} <= sans
    assert "kubernetes.default.svc.cluster.local" in sans
    without_balancer = set(issued(True, ("10.254.0.1",))["apiserver"].request.sans)
    assert "10.9.0.1" not in without_balancer


def test_workers_get_no_control_plane_certificate_and_masters_every_one() -> None:
    worker, master = issued(False), issued(True)
    assert not CONTROL_PLANE_CERTS & set(worker)
    assert set(master) >= CONTROL_PLANE_CERTS
    assert set(worker) <= set(master)  # a master is a node too: kubelet and kube-proxy


def test_a_kubelet_is_system_node_hostname_in_system_nodes_and_serves_its_own_names() -> None:
    certs = issued(False)
    client = certs["kubelet-client"].request
    assert (client.common_name, client.organization, client.client) == (
        "system:node:k-n-0", "system:nodes", True)
    server = certs["kubelet-server"].request
    assert not server.client and set(server.sans) == {"10.9.0.2", "k-n-0"}


def test_only_the_api_servers_kubelet_client_is_a_cluster_admin() -> None:
    admins = {name for name, item in issued(True).items()
              if item.request.organization == "system:masters"}
    assert admins == {"apiserver-kubelet-client"}


def test_a_kubeconfig_names_the_server_the_ca_and_the_users_files_in_its_context() -> None:
    text = credentials.kubeconfig(server="https://10.9.0.2:6443", ca_pem="PEM\n",
                                  cert="/etc/k/c.pem", key="/etc/k/k.pem", user="kubelet")
    doc = json.loads(text)
    context = next(c["context"] for c in doc["contexts"] if c["name"] == doc["current-context"])
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in doc["users"] if u["name"] == context["user"])
    assert cluster["server"] == "https://10.9.0.2:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"PEM\n"
    assert user == {"client-certificate": "/etc/k/c.pem", "client-key": "/etc/k/k.pem"}


# -- the programs' command lines ----------------------------------------------------------------

def test_every_etcd_member_starts_with_the_same_initial_cluster_naming_each_master() -> None:
    lines = [flags(agents.etcd(me, MASTERS, "magna-abcd").argv) for me in MASTERS]
    assert len({line["initial-cluster"] for line in lines}) == 1
    peers = dict(peer.split("=", 1) for peer in lines[0]["initial-cluster"].split(","))
    assert peers == {m.hostname: f"https://{m.address}:{layout.ETCD_PEER_PORT}"
                     for m in MASTERS}
    for me, line in zip(MASTERS, lines, strict=True):
        assert line["name"] == me.hostname
        assert line["initial-advertise-peer-urls"] == peers[me.hostname]
        assert line["client-cert-auth"] == line["peer-client-cert-auth"] == "true"


def test_kubelet_taints_masters_no_schedule_and_never_labels_itself() -> None:
    master = flags(agents.kubelet(hostname="m", address="10.9.0.2", master=True).argv)
    worker = flags(agents.kubelet(hostname="w", address="10.9.0.3", master=False).argv)
    assert master["register-with-taints"] == f"{agents.MASTER_TAINT}=:NoSchedule"
    assert "register-with-taints" not in worker
    # NOTE: NodeRestriction refuses most labels a kubelet sets on itself; the driver sets them.
    assert "node-labels" not in master and "node-labels" not in worker
    assert worker["hostname-override"] == "w" and worker["node-ip"] == "10.9.0.3"
    assert worker["anonymous-auth"] == "false" and worker["read-only-port"] == "0"


def test_kube_proxy_leaves_every_host_wide_conntrack_setting_alone() -> None:
    line = flags(agents.kube_proxy(hostname="w", address="10.9.0.3",
                                   addressing=make_addressing()).argv)
    conntrack = {name: value for name, value in line.items() if name.startswith("conntrack")}
    assert conntrack and set(conntrack.values()) == {"0"}
    assert line["cluster-cidr"] == layout.POD_CIDR


def test_the_api_server_refuses_privilege_runs_psp_and_serves_the_labels_ranges() -> None:
    addressing = make_addressing(service_cluster_ip_range="10.32.0.0/24")
    line = flags(agents.apiserver(MASTERS[0], addressing).argv)
    assert line["allow-privileged"] == "false"
    assert "PodSecurityPolicy" in line["enable-admission-plugins"].split(",")
    assert line["insecure-port"] == "0" and line["anonymous-auth"] == "false"
    assert line["service-cluster-ip-range"] == "10.32.0.0/24"
    assert line["advertise-address"] == MASTERS[0].address


def test_leader_election_only_when_there_is_more_than_one_master() -> None:
    for program in (agents.controller_manager, agents.scheduler):
        assert flags(program(1).argv)["leader-elect"] == "false"
        assert flags(program(3).argv)["leader-elect"] == "true"


# -- addressing from Magnum's labels ------------------------------------------------------------

def test_no_labels_give_magnums_defaults() -> None:
    addressing = make_addressing()
    assert addressing.pod_cidr == ipaddress.IPv4Network(layout.POD_CIDR)
    assert addressing.service_cidr == ipaddress.IPv4Network(layout.SERVICE_CIDR)
    assert addressing.api_service_ip == "10.254.0.1"


@pytest.mark.parametrize(("labels", "named"), [
    ({"flannel_network_cidr": "10.254.0.0/20"}, "overlaps service_cluster_ip_range"),
    ({"service_cluster_ip_range": "10.100.8.0/24"}, "overlaps service_cluster_ip_range"),
    ({"flannel_network_subnetlen": "16"}, "flannel_network_subnetlen"),
    ({"flannel_network_subnetlen": "29"}, "flannel_network_subnetlen"),
    ({"flannel_network_subnetlen": "twenty"}, "flannel_network_subnetlen"),
    ({"flannel_network_cidr": "10.100.0.0/33"}, "flannel_network_cidr"),
    ({"service_cluster_ip_range": "fd00::/64"}, "service_cluster_ip_range"),
])
def test_bad_ranges_are_refused_naming_the_label(
        labels: dict[str, str], named: str) -> None:
    with pytest.raises(PermanentError, match=named):
        addressing_of(labels)


def test_pod_subnets_of_different_slots_differ_and_lie_in_the_pod_range() -> None:
    addressing = make_addressing(flannel_network_cidr="10.50.0.0/20",
                                 flannel_network_subnetlen="26")
    subnets = [addressing.pod_subnet(slot) for slot in range(addressing.node_room)]
    assert len(set(subnets)) == addressing.node_room == 64
    assert all(s.subnet_of(addressing.pod_cidr) and s.prefixlen == 26 for s in subnets)


# -- the pod network ----------------------------------------------------------------------------

def test_a_nodes_cni_configuration_hands_out_addresses_of_its_own_subnet_only() -> None:
    own = make_addressing().pod_subnet(3)
    doc = json.loads(podnet.conflist(own))
    bridge = next(plugin for plugin in doc["plugins"] if plugin["type"] == "bridge")
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.100.3.0/24"}]]
    assert bridge["isGateway"] is True and bridge["ipMasq"] is False


def test_routes_lead_to_every_other_nodes_pods_through_that_node() -> None:
    addressing = make_addressing()
    peers = [(0, "10.9.0.2"), (1, "10.9.0.3"), (4, "10.9.0.6")]
    assert podnet.routes(addressing, 1, peers) == [("10.100.0.0/24", "10.9.0.2"),
                                                   ("10.100.4.0/24", "10.9.0.6")]
    assert podnet.routes(addressing, 0, peers[:1]) == []


# -- the engine of a Kubernetes node ------------------------------------------------------------

def _engine(tmp_path: Path, **overrides: object) -> engine.EngineSpec:
    fields: dict[str, object] = dict(
        node_dir=str(tmp_path / "n"), run_dir=str(tmp_path / "run"), hostname="k-w-0",
        netns="magna-abcd1234-w-0", address="10.9.0.3", cgroup_parent="/magna/abcd1234/w-0")
    fields.update(overrides)
    return engine.EngineSpec(**fields)  # type: ignore[arg-type]


def test_an_engine_without_tcp_listens_on_its_socket_only_and_holds_no_tls_keys(
        tmp_path: Path) -> None:
    config = _engine(tmp_path, tcp=False, tls=True).build()
    assert config["hosts"] == ["unix:///run/docker.sock"]
    assert not {"tls", "tlsverify", "tlscacert", "tlscert", "tlskey"} & set(config)


def test_kubernetes_engine_options_override_the_defaults_and_keep_the_rest(
        tmp_path: Path) -> None:
    config = _engine(tmp_path, options=(*engine_options(), ("oom-score-adjust", "-500"))).build()
    assert config["oom-score-adjust"] == -500
    assert config["bridge"] == "none" and config["iptables"] is False
    assert config["runtimes"]["magna-runc"]["path"] == layout.RUNTIME
    assert config["default-runtime"] == "magna-runc"
    assert config["userns-remap"] == _engine(tmp_path).build()["userns-remap"]


def test_a_kubernetes_nodes_seal_brings_the_build_pins_sysctls_and_enters_the_hash(
        tmp_path: Path) -> None:
    driver = LocalKubernetesDriver(make_conf(tmp_path / "state"))
    profile = driver._engine_profile(make_spec())
    bin_dir = driver.binaries.bin_dir(driver.version(make_spec()))
    assert f"dir:{bin_dir}:{layout.BIN}" in profile.seal and "kmsg" in profile.seal
    assert {f"sysctl:{s}" for s in PINNED_SYSCTLS} <= set(profile.seal)
    assert (profile.tcp, driver.nodes.authz_root) == (False, None)
    sealed = _engine(tmp_path, seal=profile.seal)
    unsealed = _engine(tmp_path, seal=profile.seal[:-1])
    assert engine.desired_hash(sealed, "c") != engine.desired_hash(unsealed, "c")
