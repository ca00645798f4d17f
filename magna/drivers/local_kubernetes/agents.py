"""The Kubernetes programs of a node and their command lines (pure).

Masters run etcd (stacked: one member per master), kube-apiserver, kube-controller-manager and
kube-scheduler; every node runs kubelet and kube-proxy beside its engine. Each is a
``daemons.Daemon`` started inside the sealed node, so every path here is a path in the node
(``layout.py``).

Choices that matter on a node that shares a kernel with its host and its neighbours:

- kubelet drives the node's dockerd through dockershim (Kubernetes 1.20), puts pods in the
  engine's cgroup (``--cgroups-per-qos=false``: the node's flavor caps that cgroup), leaves the
  host's kernel settings alone (the node pins the three it would write, see ``driver.py``), and
  its OOM score as it is (root here cannot lower scores).
- kube-proxy leaves the host-wide conntrack settings alone (all zero).
- The API server admits no privileged pod and runs PodSecurityPolicy (``admission.py`` holds
  the policy every user and service account gets); it has no insecure port; the kubelets'
  API needs a client certificate of the cluster's CA.
- Nothing waits for a fixed period that a small cluster does not need: kubelet reports its status
  every 2 s (it is Ready only from its next report), and the driver writes each node's pod subnet
  into its CNI configuration, so the controller manager allocates none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from magna.drivers.local_kubernetes import admission, layout
from magna.drivers.local_kubernetes.layout import Addressing
from magna.drivers.local_nodes.daemons import Daemon

KUBELET = "kubelet"
KUBE_PROXY = "kube-proxy"
ETCD = "etcd"
APISERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
SCHEDULER = "kube-scheduler"
CONTROL_PLANE = (ETCD, APISERVER, CONTROLLER_MANAGER, SCHEDULER)
NODE_AGENTS = (KUBELET, KUBE_PROXY)
MASTER_TAINT = "node-role.kubernetes.io/master"


@dataclass(frozen=True)
class Member:
    """A master as the control plane knows it."""

    hostname: str
    address: str


def _bin(program: str) -> str:
    return f"{layout.BIN}/{program}"


def etcd(me: Member, members: Sequence[Member], token: str) -> Daemon:
    peers = ",".join(f"{m.hostname}=https://{m.address}:{layout.ETCD_PEER_PORT}"
                     for m in members)
    return Daemon(ETCD, (
        "/usr/bin/etcd", f"--name={me.hostname}", f"--data-dir={layout.ETCD_DATA}",
        f"--listen-client-urls=https://{me.address}:{layout.ETCD_CLIENT_PORT},"
        f"https://127.0.0.1:{layout.ETCD_CLIENT_PORT}",
        f"--advertise-client-urls=https://{me.address}:{layout.ETCD_CLIENT_PORT}",
        f"--listen-peer-urls=https://{me.address}:{layout.ETCD_PEER_PORT}",
        f"--initial-advertise-peer-urls=https://{me.address}:{layout.ETCD_PEER_PORT}",
        f"--initial-cluster={peers}", "--initial-cluster-state=new",
        f"--initial-cluster-token={token}",
        f"--cert-file={layout.cert('etcd')}", f"--key-file={layout.key('etcd')}",
        f"--trusted-ca-file={layout.CA}", "--client-cert-auth=true",
        f"--peer-cert-file={layout.cert('etcd')}", f"--peer-key-file={layout.key('etcd')}",
        f"--peer-trusted-ca-file={layout.CA}", "--peer-client-cert-auth=true",
        "--heartbeat-interval=250", "--election-timeout=2500",
        "--logger=zap"))


def apiserver(me: Member, addressing: Addressing) -> Daemon:
    return Daemon(APISERVER, (
        _bin(APISERVER), f"--advertise-address={me.address}",
        f"--secure-port={layout.API_PORT}", "--insecure-port=0",
        f"--etcd-servers=https://127.0.0.1:{layout.ETCD_CLIENT_PORT}",
        f"--etcd-cafile={layout.CA}", f"--etcd-certfile={layout.cert('apiserver')}",
        f"--etcd-keyfile={layout.key('apiserver')}",
        f"--client-ca-file={layout.CA}", f"--tls-cert-file={layout.cert('apiserver')}",
        f"--tls-private-key-file={layout.key('apiserver')}",
        f"--kubelet-client-certificate={layout.cert('apiserver-kubelet-client')}",
        f"--kubelet-client-key={layout.key('apiserver-kubelet-client')}",
        f"--kubelet-certificate-authority={layout.CA}",
        "--kubelet-preferred-address-types=InternalIP",
        f"--service-cluster-ip-range={addressing.service_cidr}",
        f"--service-account-key-file={layout.SA_PUB}",
        f"--service-account-signing-key-file={layout.SA_KEY}",
        f"--service-account-issuer=https://kubernetes.default.svc.{layout.CLUSTER_DOMAIN}",
        "--authorization-mode=Node,RBAC", *admission.API_SERVER_FLAGS,
        "--profiling=false", "--anonymous-auth=false"))


def controller_manager(masters: int) -> Daemon:
    conf = layout.kubeconfig(CONTROLLER_MANAGER)
    return Daemon(CONTROLLER_MANAGER, (
        _bin(CONTROLLER_MANAGER), f"--kubeconfig={conf}",
        f"--authentication-kubeconfig={conf}", f"--authorization-kubeconfig={conf}",
        f"--leader-elect={'true' if masters > 1 else 'false'}", "--port=0",
        "--bind-address=127.0.0.1", f"--service-account-private-key-file={layout.SA_KEY}",
        f"--root-ca-file={layout.CA}", "--use-service-account-credentials=true",
        "--allocate-node-cidrs=false", "--profiling=false"))


def scheduler(masters: int) -> Daemon:
    conf = layout.kubeconfig(SCHEDULER)
    return Daemon(SCHEDULER, (
        _bin(SCHEDULER), f"--kubeconfig={conf}", f"--authentication-kubeconfig={conf}",
        f"--authorization-kubeconfig={conf}",
        f"--leader-elect={'true' if masters > 1 else 'false'}", "--port=0",
        "--bind-address=127.0.0.1", "--profiling=false"))


def kubelet(*, hostname: str, address: str, master: bool) -> Daemon:
    taints = (f"--register-with-taints={MASTER_TAINT}=:NoSchedule",) if master else ()
    return Daemon(KUBELET, (
        _bin(KUBELET), f"--kubeconfig={layout.kubeconfig(KUBELET)}",
        f"--hostname-override={hostname}", f"--node-ip={address}",
        "--container-runtime=docker", "--docker-endpoint=unix:///run/docker.sock",
        "--network-plugin=cni", f"--cni-bin-dir={layout.CNI_BIN_DIR}",
        f"--cni-conf-dir={layout.CNI_CONF_DIR}",
        f"--pod-infra-container-image={layout.PAUSE_IMAGE}",
        "--cgroup-driver=cgroupfs", "--cgroups-per-qos=false", "--enforce-node-allocatable=",
        "--fail-swap-on=false", "--oom-score-adj=0",
        "--anonymous-auth=false", f"--client-ca-file={layout.CA}",
        "--authorization-mode=AlwaysAllow",
        f"--tls-cert-file={layout.cert('kubelet-server')}",
        f"--tls-private-key-file={layout.key('kubelet-server')}",
        "--read-only-port=0", "--node-status-update-frequency=2s",
        f"--cluster-domain={layout.CLUSTER_DOMAIN}",
        "--volume-plugin-dir=/var/lib/kubelet/volumeplugins",
        # NOTE: every node sees the host's disk: thresholds for a node's own disk would evict
        # pods because of what other clusters (or the host) store.
        "--eviction-hard=memory.available<16Mi,nodefs.available<1%,imagefs.available<1%",
        "--image-gc-high-threshold=100", "--image-gc-low-threshold=99",
        *taints),
        # NOTE: else the in-tree AWS credential provider probes the metadata address for 6 s
        environment=(("AWS_EC2_METADATA_DISABLED", "true"),))


def kube_proxy(*, hostname: str, address: str, addressing: Addressing) -> Daemon:
    return Daemon(KUBE_PROXY, (
        _bin(KUBE_PROXY), f"--kubeconfig={layout.kubeconfig(KUBE_PROXY)}",
        f"--hostname-override={hostname}", f"--bind-address={address}",
        "--proxy-mode=iptables", f"--cluster-cidr={addressing.pod_cidr}",
        "--oom-score-adj=0", "--conntrack-max-per-core=0", "--conntrack-min=0",
        "--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
        "--metrics-bind-address=127.0.0.1:10249", "--healthz-bind-address=127.0.0.1:10256"))
