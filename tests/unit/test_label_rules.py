"""The drivers' label rules: each label Magnum documents is covered, each rule accepts and
refuses what it says, swarm placement is what its strategy says, and the docs' tables are the
rules' (a drift prints the text to paste)."""

from __future__ import annotations

from pathlib import Path

import pytest

from magna.common.exceptions import Invalid, PermanentError
from magna.drivers import labels, labels_doc
from magna.drivers.base import ClusterSpec
from magna.drivers.local_kubernetes import labels as kubernetes
from magna.drivers.local_nodes import healing
from magna.drivers.local_swarm import labels as swarm
from magna.drivers.local_swarm import placement
from magna.drivers.local_swarm.placement import Load

DOC = Path(__file__).resolve().parents[2] / "docs" / "template-settings.md"

# The labels Magnum's user guide documents for Swarm (its Swarm section and the labels its
# swarm drivers read) and for Kubernetes (the labels table and the Kubernetes section).
MAGNUM_SWARM = {"swarm_strategy", "rexray_preempt", "flannel_network_cidr", "flannel_backend",
                "flannel_network_subnetlen", "docker_volume_type", "availability_zone"}
MAGNUM_KUBERNETES = {
    "flannel_network_cidr", "flannel_backend", "flannel_network_subnetlen", "heapster_enabled",
    "metrics_server_chart_tag", "metrics_server_enabled", "monitoring_enabled",
    "prometheus_operator_chart_tag", "prometheus_adapter_enabled",
    "prometheus_adapter_chart_tag", "prometheus_adapter_configmap",
    "traefik_ingress_controller_tag", "admission_control_list", "prometheus_monitoring",
    "grafana_admin_passwd", "kube_tag", "cloud_provider_tag", "etcd_tag", "coredns_tag",
    "flannel_tag", "flannel_cni_tag", "heat_container_agent_tag", "kube_dashboard_enabled",
    "kube_dashboard_version", "metrics_scraper_tag", "influx_grafana_dashboard_enabled",
    "docker_volume_type", "boot_volume_size", "boot_volume_type", "etcd_volume_size",
    "etcd_volume_type", "container_infra_prefix", "availability_zone", "cert_manager_api",
    "ingress_controller", "ingress_controller_role", "octavia_ingress_controller_tag",
    "nginx_ingress_controller_tag", "nginx_ingress_controller_chart_tag", "kubelet_options",
    "kubeapi_options", "kubescheduler_options", "kubecontroller_options", "kubeproxy_options",
    "cgroup_driver", "cloud_provider_enabled", "service_cluster_ip_range",
    "keystone_auth_enabled", "k8s_keystone_auth_tag", "tiller_enabled", "tiller_tag",
    "tiller_namespace", "helm_client_url", "helm_client_sha256", "helm_client_tag",
    "master_lb_floating_ip_enabled", "master_lb_allowed_cidrs", "auto_healing_enabled",
    "auto_healing_controller", "magnum_auto_healer_tag", "auto_scaling_enabled",
    "node_problem_detector_tag", "draino_tag", "autoscaler_tag", "min_node_count",
    "max_node_count", "npd_enabled", "use_podman", "selinux_mode", "container_runtime",
    "containerd_version", "containerd_tarball_url", "containerd_tarball_sha256", "calico_tag",
    "calico_ipv4pool", "calico_ipv4pool_ipip", "fixed_subnet_cidr", "hyperkube_prefix",
    "cinder_csi_enabled", "cinder_csi_plugin_tag", "csi_attacher_tag", "csi_provisioner_tag",
    "csi_snapshotter_tag", "csi_resizer_tag", "csi_node_driver_registrar_tag",
    "csi_liveness_probe_tag", "octavia_provider", "octavia_lb_algorithm",
    "octavia_lb_healthcheck", "monitoring_ingress_enabled", "monitoring_retention_days",
    "monitoring_retention_size", "monitoring_storage_class_name", "monitoring_interval_seconds"}


def _names(rules: tuple[labels.LabelRule, ...]) -> list[str]:
    return [rule.name for rule in rules]


@pytest.mark.parametrize(("rules", "documented"), [(swarm.RULES, MAGNUM_SWARM),
                                                   (kubernetes.RULES, MAGNUM_KUBERNETES)])
def test_every_documented_label_has_one_rule(rules: tuple[labels.LabelRule, ...],
                                             documented: set[str]) -> None:
    names = _names(rules)
    assert len(names) == len(set(names))
    assert documented - set(names) == set()


SWARM_CASES = [
    ("swarm_strategy", "spread", True), ("swarm_strategy", "binpack", True),
    ("swarm_strategy", "random", True), ("swarm_strategy", "bogus", False),
    ("swarm_strategy", "Spread", False), ("swarm_strategy", "", False),
    ("auto_healing_enabled", "true", True), ("auto_healing_enabled", "False", True),
    ("auto_healing_enabled", "sometimes", False),
    ("min_node_count", "2", True), ("min_node_count", "-1", False),
    ("min_node_count", "two", False), ("max_node_count", "5", True),
    ("max_node_count", "1001", False),
    ("flannel_network_cidr", "", True), ("flannel_network_cidr", "10.0.0.0/16", False),
    ("flannel_backend", "vxlan", False),
    ("rexray_preempt", "false", True), ("rexray_preempt", "true", False),
    ("docker_volume_type", "", True), ("docker_volume_type", "ssd", False),
    ("availability_zone", "nova", False),
]

KUBERNETES_CASES = [
    ("kube_tag", "v1.20.2", True), ("kube_tag", "1.20.2", True), ("kube_tag", "v1.29.0", False),
    ("flannel_network_cidr", "10.200.0.0/16", True),
    ("flannel_network_cidr", "10.0.0.0/33", False), ("flannel_network_cidr", "nope", False),
    ("flannel_network_subnetlen", "26", True), ("flannel_network_subnetlen", "29", False),
    ("service_cluster_ip_range", "10.96.0.0/12", True),
    ("service_cluster_ip_range", "10.96.0.1/12", False),
    ("flannel_backend", "host-gw", True), ("flannel_backend", "vxlan", False),
    ("flannel_backend", "udp", False),
    ("auto_healing_enabled", "TRUE", True), ("auto_healing_enabled", "maybe", False),
    ("cgroup_driver", "cgroupfs", True), ("cgroup_driver", "systemd", False),
    ("container_runtime", "", True), ("container_runtime", "docker", True),
    ("container_runtime", "containerd", False),
    ("dns_cluster_domain", "cluster.local", True), ("dns_cluster_domain", "corp.example", False),
    ("selinux_mode", "disabled", True), ("selinux_mode", "enforcing", False),
    ("use_podman", "false", True), ("use_podman", "true", False),
    ("admission_control_list", "PodSecurityPolicy,NodeRestriction,ServiceAccount", True),
    ("admission_control_list", "NodeRestriction,ServiceAccount", False),
    ("cloud_provider_enabled", "false", True), ("cloud_provider_enabled", "true", False),
    ("kube_dashboard_enabled", "0", True), ("kube_dashboard_enabled", "1", False),
    ("monitoring_enabled", "no", True), ("monitoring_enabled", "yes", False),
    ("master_lb_floating_ip_enabled", "false", True),
    ("master_lb_floating_ip_enabled", "true", False),
    ("kubelet_options", "", True), ("kubelet_options", "--fail-swap-on=false", False),
    ("kubeapi_options", "--allow-privileged=true", False),
    ("calico_tag", "v3.13.1", False), ("calico_ipv4pool", "10.100.0.0/16", False),
    ("ingress_controller", "", True), ("ingress_controller", "octavia", False),
    ("etcd_tag", "v3.4.6", False), ("coredns_tag", "1.6.6", False),
    ("containerd_version", "1.4.4", False), ("boot_volume_size", "0", True),
    ("boot_volume_size", "10", False), ("etcd_volume_size", "5", False),
    ("master_lb_allowed_cidrs", "192.168.0.0/16", False),
]


def _accepts(rules: tuple[labels.LabelRule, ...], name: str, value: str, kind: str) -> bool:
    try:
        labels.check(rules, {name: value}, kind=kind)
    except (PermanentError, Invalid) as exc:
        assert name in exc.message and value in exc.message, exc.message
        return False
    return True


@pytest.mark.parametrize(("name", "value", "accepted"), SWARM_CASES)
def test_swarm_rules(name: str, value: str, accepted: bool) -> None:
    assert _accepts(swarm.RULES, name, value, "local Swarm") is accepted


@pytest.mark.parametrize(("name", "value", "accepted"), KUBERNETES_CASES)
def test_kubernetes_rules(name: str, value: str, accepted: bool) -> None:
    assert _accepts(kubernetes.RULES, name, value, "local Kubernetes") is accepted


def test_a_refusal_names_the_driver_and_what_it_accepts() -> None:
    with pytest.raises(PermanentError) as caught:
        labels.check(swarm.RULES, {"swarm_strategy": "bogus"}, kind="local Swarm")
    assert caught.value.message == ("Label swarm_strategy=bogus is not accepted by the local "
                                    "Swarm driver; accepted: spread, binpack, random.")
    with pytest.raises(PermanentError) as caught:
        labels.check(kubernetes.RULES, {"flannel_backend": "vxlan"}, kind="local Kubernetes")
    assert "routes each node's pod subnet natively" in caught.value.message
    assert "Accepted: host-gw." in caught.value.message


def test_labels_no_rule_names_are_the_users_own() -> None:
    mine = {"team": "blue", "kube_tag": "anything"}  # kube_tag is no swarm label
    labels.check(swarm.RULES, mine, kind="local Swarm")
    labels.check(kubernetes.RULES, {"team": "blue", "swarm_strategy": "x"},
                 kind="local Kubernetes")


@pytest.mark.parametrize(("value", "meaning"), [
    (None, False), ("", False), ("true", True), ("TRUE", True), ("1", True), ("yes", True),
    ("false", False), ("0", False), ("off", False)])
def test_a_boolean_label_means_what_its_rule_accepted(value: str | None, meaning: bool) -> None:
    assert labels.flag(value) is meaning
    spec = ClusterSpec(uuid="u", name="c", project_id="p", coe="kubernetes", generation=1,
                       template_uuid="t", image_id="i", nodegroups=(),
                       labels={} if value is None else {"auto_healing_enabled": value})
    assert healing.auto_healing(spec) is meaning


LOADS = [Load("10.0.0.2", 1), Load("10.0.0.3", 0), Load("10.0.0.4", 2), Load("10.0.0.5", 0)]


@pytest.mark.parametrize(("strategy", "loads", "chosen"), [
    ("spread", LOADS, "10.0.0.3"),
    ("binpack", LOADS, "10.0.0.4"),
    ("spread", [Load("a", 0), Load("b", 0)], "a"),
    ("binpack", [Load("a", 0), Load("b", 0)], "a"),
    ("binpack", [Load("a", 3), Load("b", 3), Load("c", 1)], "a"),
])
def test_spread_and_binpack(strategy: str, loads: list[Load], chosen: str) -> None:
    assert placement.choose(strategy, loads, seed="x") == chosen


def test_spread_alternates_and_binpack_stays_on_one_node() -> None:
    for strategy, expected in (("spread", ["a", "b", "c", "a", "b"]),
                               ("binpack", ["a", "a", "a", "a", "a"])):
        counts = {"a": 0, "b": 0, "c": 0}
        placed = []
        for i in range(5):
            address = placement.choose(strategy, [Load(k, v) for k, v in counts.items()],
                                       seed=str(i))
            counts[address] += 1
            placed.append(address)
        assert placed == expected, strategy


def test_random_is_a_draw_per_container_repeated_the_same() -> None:
    loads = [Load(str(i), 0) for i in range(4)]
    drawn = {placement.choose("random", loads, seed=f"uuid-{i}") for i in range(40)}
    assert len(drawn) > 1 and drawn <= {"0", "1", "2", "3"}
    assert all(placement.choose("random", loads, seed="same") ==
               placement.choose("random", loads, seed="same") for _ in range(5))


def test_the_strategy_is_read_from_the_cluster_labels() -> None:
    assert placement.strategy_of({}) == "spread"
    assert placement.strategy_of({"swarm_strategy": "binpack"}) == "binpack"


def test_the_docs_tables_are_the_rules() -> None:
    expected = labels_doc.render()
    found = labels_doc.section_of(DOC.read_text())
    assert found == expected, (
        f"docs/template-settings.md's labels tables differ from the drivers' rules; replace "
        f"the part between the markers with:\n\n{expected}\n")
