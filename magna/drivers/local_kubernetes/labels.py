"""The labels Magnum documents for Kubernetes clusters, and what the local Kubernetes driver does
with each.

Upstream's Kubernetes drivers read some seventy labels: versions and image tags of what they
install (etcd, flannel, CoreDNS, the dashboard, Helm, CSI, the OpenStack cloud provider),
switches for add-ons (monitoring, ingress, Keystone auth, autoscaling), extra flags for each
Kubernetes program, and the cluster's address ranges. Here a cluster is built from one host-wide
build of Kubernetes (``binaries.py``) on sealed local nodes, without add-ons and without a
cloud: so the version and the address ranges are honoured (``binaries.version_of``,
``driver.addressing_of``), healing and the worker bounds too, and each add-on switch is accepted
only when off. Free flags for the programs are always refused: kubelet and the control plane run
on the host inside a node's namespaces (``local_nodes/daemons.py``), and a flag could undo what
seals the node (docs/security.md). ``docs/template-settings.md`` is rendered from ``RULES``.
"""

from __future__ import annotations

from magna.drivers import labels
from magna.drivers.labels import LabelRule
from magna.drivers.local_kubernetes import admission, binaries, layout

NOT_FLAGS = ("extra command-line flags are never passed to the node's Kubernetes programs: they "
             "run on this host in the node's namespaces, and a flag could weaken its seal.")
NO_CLOUD = "there is no OpenStack cloud behind a local cluster"


def _kube_tag(value: str, kind: str) -> None:
    binaries.version_of(value, value)


def _admission(value: str, kind: str) -> None:
    asked = {name.strip() for name in value.split(",") if name.strip()}
    if asked and asked != set(admission.ADMISSION_PLUGINS):
        raise labels.refusal(
            "admission_control_list", value, kind,
            f"the API server's admission plugins keep pods inside their node and are fixed: "
            f"{','.join(admission.ADMISSION_PLUGINS)}.")


def _not_deployed(*names: str, what: str) -> tuple[LabelRule, ...]:
    return tuple(labels.absent(name, what=f"{what} is not deployed by this driver.")
                 for name in names)


HONOURED: tuple[LabelRule, ...] = (
    LabelRule("kube_tag", default="[local_kubernetes] default_kube_tag (v1.20.2)",
              effect="The Kubernetes version every node runs, from the host-wide build.",
              refused="a version not built here (available: "
                      f"{', '.join('v' + v for v in binaries.SUPPORTED)})",
              check=_kube_tag),
    labels.ipv4_network(
        "flannel_network_cidr", default=layout.POD_CIDR,
        effect="The pod network; each node routes its own subnet of it (host-gw)."),
    labels.integer(
        "flannel_network_subnetlen", default=str(layout.POD_SUBNET_PREFIX), low=1, high=28,
        effect="The prefix length of each node's pod subnet (longer than the pod network's, "
               "at most 28)."),
    labels.ipv4_network(
        "service_cluster_ip_range", default=layout.SERVICE_CIDR,
        effect="The service (cluster IP) range; must not overlap the pod network."),
    labels.pinned(
        "flannel_backend", ("host-gw",), default="host-gw",
        effect="host-gw: each node's pod subnet is routed to it over the cluster's bridge "
               "(podnet.py, without flannel's daemon). Magnum's default is vxlan (udp in older "
               "releases).",
        why="the local driver routes each node's pod subnet natively over the cluster's bridge "
            "(host-gw); no overlay is needed."),
    labels.boolean(
        "auto_healing_enabled",
        effect="true: a worker still not Ready after Magna restarted its programs is replaced "
               "by a new node (programs are restarted either way)."),
    *labels.NODE_COUNT_BOUNDS,
)

PINNED: tuple[LabelRule, ...] = (
    labels.pinned("cgroup_driver", ("cgroupfs",),
                  effect="cgroupfs, for the engine and kubelet alike.",
                  why="the nodes' engines and kubelets use cgroupfs."),
    labels.pinned("container_runtime", ("", "docker"), default='"" (the node\'s Docker engine)',
                  effect="The node's own Docker engine runs the pods.",
                  why="pods run in each node's Docker engine; there is no containerd runtime."),
    labels.pinned("dns_cluster_domain", (layout.CLUSTER_DOMAIN,),
                  effect=f"kubelet's cluster domain, {layout.CLUSTER_DOMAIN}.",
                  why=f"kubelet's cluster domain is {layout.CLUSTER_DOMAIN}."),
    labels.pinned("selinux_mode", ("disabled",),
                  effect="None: nodes share this host's kernel, which has no SELinux policy "
                         "for them.",
                  why="nodes share this host's kernel; SELinux modes are not set per node."),
    labels.pinned("use_podman", ("", *labels.FALSE), default="false",
                  effect="None: nodes run no podman; the Kubernetes programs run from the "
                         "host-wide build.",
                  why="the Kubernetes programs run from the host-wide build, not podman."),
    LabelRule("admission_control_list", check=_admission,
              default=",".join(admission.ADMISSION_PLUGINS),
              effect="The API server's admission plugins, fixed (they keep pods in their "
                     "node).",
              refused="any other list"),
)

OFF: tuple[LabelRule, ...] = (
    labels.off_only("cloud_provider_enabled", what=f"a cloud provider ({NO_CLOUD})"),
    labels.off_only("cinder_csi_enabled", what="the Cinder CSI plugin"),
    labels.off_only("keystone_auth_enabled", what="Keystone authentication in the cluster",
                    upstream_default="true"),
    labels.off_only("kube_dashboard_enabled", what="the Kubernetes dashboard",
                    upstream_default="true"),
    labels.off_only("metrics_server_enabled", what="metrics-server", upstream_default="true"),
    labels.off_only("monitoring_enabled", what="Prometheus monitoring"),
    labels.off_only("monitoring_ingress_enabled", what="an ingress for monitoring"),
    labels.off_only("prometheus_monitoring", what="Prometheus monitoring"),
    labels.off_only("prometheus_adapter_enabled", what="the Prometheus adapter",
                    upstream_default="true"),
    labels.off_only("heapster_enabled", what="Heapster"),
    labels.off_only("influx_grafana_dashboard_enabled", what="InfluxDB and Grafana"),
    labels.off_only("tiller_enabled", what="Tiller"),
    labels.off_only("npd_enabled", what="the node problem detector", upstream_default="true"),
    labels.off_only("auto_scaling_enabled", what="the cluster autoscaler"),
    labels.off_only("cert_manager_api", what="the certificate manager API"),
    labels.off_only("master_lb_floating_ip_enabled",
                    what="a floating IP for the masters' load balancer (it listens on the "
                         "cluster's gateway on this host)"),
    labels.off_only("octavia_lb_healthcheck", what="Octavia", upstream_default="true"),
)

ABSENT: tuple[LabelRule, ...] = (
    *(labels.absent(name, what=NOT_FLAGS) for name in (
        "kubelet_options", "kubeapi_options", "kubescheduler_options",
        "kubecontroller_options", "kubeproxy_options")),
    *_not_deployed("calico_tag", "calico_ipv4pool", "calico_ipv4pool_ipip",
                   "calico_kube_controllers_tag", what="Calico (network_driver is flannel)"),
    *_not_deployed("flannel_tag", "flannel_cni_tag",
                   what="flannel's daemon (host-gw routes are set natively)"),
    *_not_deployed("etcd_tag", what="an etcd image (masters run this host's etcd)"),
    *_not_deployed("coredns_tag", what="a cluster DNS add-on"),
    *_not_deployed("cloud_provider_tag", what=f"a cloud controller manager ({NO_CLOUD})"),
    *_not_deployed("cinder_csi_plugin_tag", "csi_attacher_tag", "csi_provisioner_tag",
                   "csi_snapshotter_tag", "csi_resizer_tag", "csi_node_driver_registrar_tag",
                   "csi_liveness_probe_tag", what="the Cinder CSI plugin"),
    *_not_deployed("k8s_keystone_auth_tag", what="Keystone authentication in the cluster"),
    *_not_deployed("heat_container_agent_tag", what="a Heat agent (nodes are not Heat "
                                                    "servers)"),
    *_not_deployed("kube_dashboard_version", "metrics_scraper_tag",
                   what="the Kubernetes dashboard"),
    *_not_deployed("metrics_server_chart_tag", what="metrics-server"),
    *_not_deployed("prometheus_operator_chart_tag", "prometheus_adapter_chart_tag",
                   "prometheus_adapter_configmap", "grafana_admin_passwd",
                   "monitoring_retention_days", "monitoring_retention_size",
                   "monitoring_storage_class_name", "monitoring_interval_seconds",
                   what="Prometheus monitoring"),
    *_not_deployed("tiller_tag", "tiller_namespace", what="Tiller"),
    *_not_deployed("helm_client_url", "helm_client_sha256", "helm_client_tag",
                   what="a Helm client"),
    *_not_deployed("ingress_controller", "ingress_controller_role",
                   "octavia_ingress_controller_tag", "nginx_ingress_controller_tag",
                   "nginx_ingress_controller_chart_tag", "traefik_ingress_controller_tag",
                   what="an ingress controller"),
    *_not_deployed("auto_healing_controller", "draino_tag", "magnum_auto_healer_tag",
                   what="an in-cluster healer (Magna's conductor heals, see "
                        "auto_healing_enabled)"),
    *_not_deployed("autoscaler_tag", what="the cluster autoscaler"),
    *_not_deployed("node_problem_detector_tag", what="the node problem detector"),
    *_not_deployed("containerd_version", "containerd_tarball_url", "containerd_tarball_sha256",
                   what="containerd (pods run in the node's Docker engine)"),
    *_not_deployed("container_infra_prefix", "hyperkube_prefix",
                   what="an image of the Kubernetes programs (they come from the host-wide "
                        "build)"),
    *_not_deployed("octavia_provider", "octavia_lb_algorithm", what="Octavia"),
    labels.absent("master_lb_allowed_cidrs",
                  what="the masters' load balancer listens on the cluster's gateway on this "
                       "host, reachable from this host only."),
    labels.absent("fixed_subnet_cidr",
                  what="nodes take their addresses from the cluster's subnet on this host "
                       "(see fixed_network and fixed_subnet)."),
    labels.absent("availability_zone", what="every node runs on this host, which is one zone."),
    labels.absent("boot_volume_type", what="nodes boot from no volume: their root is a "
                                           "directory on this host."),
    labels.absent("etcd_volume_type", what="etcd keeps its data in the master's root on this "
                                           "host; there are no volume types."),
    labels.absent("docker_volume_type",
                  what="there are no volume types: docker_volume_size gives each node a "
                       "filesystem on this host."),
    labels.pinned("boot_volume_size", ("", "0"), default="0",
                  effect="None: nodes boot from no volume.",
                  why="nodes boot from no volume: their root is a directory on this host."),
    labels.pinned("etcd_volume_size", ("", "0"), default="0",
                  effect="None: etcd keeps its data in the master's root on this host.",
                  why="etcd keeps its data in the master's root on this host."),
)

RULES: tuple[LabelRule, ...] = HONOURED + PINNED + OFF + ABSENT
