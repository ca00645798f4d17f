"""Every configuration option Magna has, grouped by subsystem, each with a default and help.

``list_opts`` is also the ``oslo.config.opts`` entry point that generates ``etc/magna.conf.sample``.
"""

from __future__ import annotations

import os
import socket

from oslo_config import cfg


def _default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return os.path.join(base, "magna")


DEFAULT_OPTS: list[cfg.Opt] = [
    cfg.StrOpt("host", default=socket.gethostname(), sample_default="<hostname>",
               help="Name of this host; conductors register under it in /v1/mservices."),
    cfg.StrOpt("state_dir", default=_default_state_dir(), sample_default="~/.local/state/magna",
               help="Directory for the embedded database, the CA encryption key and driver "
                    "state."),
    cfg.IntOpt("service_down_time", default=180, min=1,
               help="Seconds without a heartbeat after which a conductor is reported down."),
    cfg.StrOpt("log_config_file",
               help="A logging configuration file (Python's logging.config.fileConfig "
                    "format) for the server processes; it then decides every logger, "
                    "Alembic's and uvicorn's included. Unset: INFO to stderr, with Alembic's "
                    "migration lines only under --debug."),
]

API_OPTS: list[cfg.Opt] = [
    cfg.HostAddressOpt("host", default="127.0.0.1", help="Address the API server binds to."),
    cfg.PortOpt("port", default=9511, help="Port the API server listens on."),
    cfg.IntOpt("workers", default=1, min=1,
               help="Number of API worker processes. Each accepts on a listening socket of "
                    "its own (SO_REUSEPORT), so the kernel spreads connections over them; a "
                    "worker that dies is replaced. With more than one, prefer PostgreSQL: "
                    "writers in several processes wait for SQLite's lock in sleeps of up to "
                    "100 ms."),
    cfg.IntOpt("worker_threads", default=2, min=1,
               help="Requests one API worker process carries out at the same time (its "
                    "thread pool for database work). Two keeps one request's database round "
                    "trip from idling the worker; many more only time-slice requests under "
                    "Python's global lock, which lengthens every one of them (see "
                    "docs/decisions.md). Calls that wait on a cluster's engines (container "
                    "exec and logs) have threads of their own."),
    cfg.IntOpt("max_limit", default=1000, min=1,
               help="Largest number of items one collection request returns."),
    cfg.StrOpt("auth_strategy", default="noauth", choices=["noauth", "keystone"],
               help="noauth trusts X-User-Id/X-Project-Id/X-Roles headers (and binds to "
                    "loopback only, answering loopback host names only: a request naming "
                    "another host gets 400); keystone validates X-Auth-Token against "
                    "Keystone."),
    cfg.IntOpt("max_request_body_size", default=114688, min=1024,
               help="Largest request body accepted, in bytes; larger ones get 413."),
    cfg.StrOpt("public_endpoint",
               help="Base URL used in resource links, e.g. https://magna.example.com:9511. "
                    "Defaults to the URL the request came in on."),
]

DATABASE_OPTS: list[cfg.Opt] = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL of the database. Defaults to SQLite in state_dir/magna.db; "
                    "PostgreSQL example: postgresql+psycopg://user@127.0.0.1/magna; MariaDB "
                    "or MySQL example: mysql+pymysql://user:password@127.0.0.1/magna (a "
                    "utf8mb4 database; see the README)."),
    cfg.BoolOpt("auto_upgrade", default=True,
                help="Apply pending migrations when a server starts."),
]

KEYSTONE_OPTS: list[cfg.Opt] = [
    cfg.URIOpt("auth_url", help="Keystone identity endpoint, e.g. http://127.0.0.1:5000/v3."),
    cfg.StrOpt("www_authenticate_uri",
               help="Keystone URL announced to clients in WWW-Authenticate on 401. "
                    "Defaults to auth_url."),
    cfg.StrOpt("username", default="magna", help="Service user that validates tokens."),
    cfg.StrOpt("password", secret=True, help="Password of the service user."),
    cfg.StrOpt("project_name", default="service", help="Project of the service user."),
    cfg.StrOpt("user_domain_name", default="Default", help="Domain of the service user."),
    cfg.StrOpt("project_domain_name", default="Default",
               help="Domain of the service user's project."),
    cfg.IntOpt("token_cache_time", default=300, min=0,
               help="Seconds a validated token is cached; 0 disables the cache."),
    cfg.IntOpt("token_cache_size", default=10000, min=1,
               help="Largest number of validated tokens kept in the cache."),
]

QUOTA_OPTS: list[cfg.Opt] = [
    cfg.IntOpt("max_clusters_per_project", default=20, min=0,
               help="Cluster quota of a project that has no explicit quota row."),
]

X509_OPTS: list[cfg.Opt] = [
    cfg.IntOpt("rsa_key_size", default=2048, choices=[2048, 3072, 4096],
               help="Size of the RSA keys of cluster CAs."),
    cfg.IntOpt("term_of_validity", default=1825, min=1,
               help="Days a CA or a signed certificate stays valid."),
    cfg.BoolOpt("allow_ca", default=False,
                help="Whether a signed CSR may keep the CA flag and certificate-signing usages."),
    cfg.ListOpt("allowed_extensions",
                default=["keyUsage", "extendedKeyUsage", "subjectAltName", "basicConstraints",
                         "subjectKeyIdentifier"],
                help="CSR extensions kept when signing; others are dropped (or refused when "
                     "critical)."),
    cfg.ListOpt("allowed_key_usage",
                default=["Digital Signature", "Key Encipherment", "Non Repudiation"],
                help="Key usages kept when signing a CSR."),
]

CERTIFICATES_OPTS: list[cfg.Opt] = [
    cfg.StrOpt("encryption_key_file",
               help="File holding the key that encrypts CA private keys in the database. "
                    "Defaults to state_dir/ca-encryption.key, generated on first start."),
]

DRIVER_OPTS: list[cfg.Opt] = [
    cfg.ListOpt("enabled_drivers", default=["local-swarm", "local-kubernetes"],
                help="Cluster drivers to load (entry points in the magna.drivers group)."),
]

CLUSTER_TEMPLATE_OPTS: list[cfg.Opt] = [
    cfg.ListOpt("kubernetes_allowed_network_drivers", default=["all"],
                help="Network drivers allowed for kubernetes templates ('all' for any "
                     "supported)."),
    cfg.StrOpt("kubernetes_default_network_driver", default="flannel",
               help="Network driver of kubernetes templates that name none."),
    cfg.ListOpt("swarm_allowed_network_drivers", default=["all"],
                help="Network drivers allowed for swarm-mode templates ('all' for any "
                     "supported)."),
    cfg.StrOpt("swarm_default_network_driver", default="docker",
               help="Network driver of swarm-mode templates that name none."),
]


CONDUCTOR_OPTS: list[cfg.Opt] = [
    cfg.IntOpt("workers", default=4, min=1,
               help="Clusters one conductor reconciles at the same time."),
    cfg.FloatOpt("sweep_interval", default=10.0, min=0.1,
                 help="Seconds between sweeps for clusters whose desired state is not yet "
                      "realised. The sweep, not the AMQP nudge, guarantees progress; a "
                      "conductor also sweeps at once when it sees another one die."),
    cfg.FloatOpt("heartbeat_interval", default=2.0, min=0.1,
                 help="Seconds between a conductor's heartbeats. Each heartbeat also reads "
                      "which conductors are alive, so it bounds how late a survivor notices "
                      "a dead one."),
    cfg.FloatOpt("dead_after", default=6.0, min=0.5,
                 help="Seconds without a heartbeat after which other conductors take over a "
                      "conductor's clusters (three missed heartbeats by default; shorter than "
                      "service_down_time on purpose)."),
    cfg.FloatOpt("fence_margin", default=2.0, min=0.0,
                 help="A conductor whose own last written heartbeat is older than dead_after "
                      "minus this stops driving its clusters (self-fencing), so that it has "
                      "stopped before others may take them over: the time a driver step under "
                      "way has to reach its next checkpoint. dead_after minus fence_margin must "
                      "exceed heartbeat_interval."),
    cfg.FloatOpt("health_interval", default=10.0,
                 help="Seconds between health observations of completed clusters; 0 or "
                      "negative disables them."),
    cfg.IntOpt("update_timeout", default=60, min=1,
               help="Minutes an update may stay in progress before it is UPDATE_FAILED."),
    cfg.IntOpt("delete_timeout", default=60, min=1,
               help="Minutes a delete may stay in progress before it is DELETE_FAILED."),
    cfg.StrOpt("transport_url", secret=True,
               help="AMQP URL (e.g. amqp://guest:guest@127.0.0.1:5672//) used to nudge "
                    "conductors that run as separate processes. Unset: magna serve nudges its "
                    "in-process conductor directly; separate processes rely on the sweep."),
]

LOCAL_SWARM_OPTS: list[cfg.Opt] = [
    cfg.StrOpt("subnet_pool", default="10.231.0.0/16",
               help="IPv4 range the local-swarm driver carves per-cluster node subnets from."),
    cfg.IntOpt("subnet_prefix", default=24, min=8, max=29,
               help="Prefix length of each cluster's subnet (a /24 holds 253 nodes)."),
    cfg.StrOpt("run_dir", default="/run/magna",
               help="Directory for the engines' runtime state (sockets, pid files); short on "
                    "purpose, since a unix socket path may not exceed 107 bytes."),
    cfg.FloatOpt("engine_start_timeout", default=60.0, min=1.0,
                 help="Seconds one apply waits for a node's dockerd to answer before it "
                      "reports the cluster as still converging."),
    cfg.FloatOpt("swarm_timeout", default=60.0, min=1.0,
                 help="Seconds a swarm init or join may take before the apply is retried."),
    cfg.FloatOpt("stop_timeout", default=20.0, min=1.0,
                 help="Seconds a node's dockerd gets to exit after SIGTERM before SIGKILL."),
    cfg.ListOpt("host_services", default=[],
                help="Services on this host (IPv4 address:port) that a cluster template may "
                     "name as its DNS server (port 53) or HTTP(S) proxy. A cluster's nodes "
                     "reach exactly those it names; every other host address and port stays "
                     "fenced off from them, whatever a template says."),
    cfg.StrOpt("dockerd", default="dockerd", advanced=True,
               help="The Docker Engine binary each node runs (a name on PATH or a path). Only "
                    "for testing failure paths, e.g. an engine that will not start; leave it."),
]

# NOTE: what both local drivers' nodes share: the catalog's private networks.
LOCAL_NODES_OPTS: list[cfg.Opt] = [
    cfg.ListOpt("private_networks", default=[],
                help="Private networks of the local catalog, which cluster templates and "
                     "clusters name as fixed_network (and their one subnet as fixed_subnet): "
                     "entries NAME=CIDR (the subnet is NAME-subnet) or NAME:SUBNET=CIDR, e.g. "
                     "shared=10.232.0.0/16. A cluster on one gets its node subnet (of the "
                     "driver's subnet_prefix) from the network's CIDR, and clusters on the same "
                     "network reach each other's nodes; a cluster on none reaches no other. "
                     "Each CIDR must hold one cluster subnet, overlap no other network nor a "
                     "driver's subnet_pool, and lie within the same /(subnet_prefix - 14) as "
                     "the pool (a /10 for /24 subnets)."),
]

# NOTE: the node layer's settings for Kubernetes clusters; the defaults match [local_swarm]
# (subnets and the run dir are shared host-wide, so both drivers may use the same ones).
LOCAL_KUBERNETES_NODE_OPTS: list[cfg.Opt] = [
    cfg.StrOpt("subnet_pool", default="10.231.0.0/16",
               help="IPv4 range the local-kubernetes driver carves per-cluster node subnets "
                    "from (clusters of both local drivers never share a subnet)."),
    cfg.IntOpt("subnet_prefix", default=24, min=8, max=29,
               help="Prefix length of each cluster's node subnet."),
    cfg.StrOpt("run_dir", default="/run/magna",
               help="Directory for the engines' runtime state (sockets, pid files)."),
    cfg.FloatOpt("engine_start_timeout", default=60.0, min=1.0,
                 help="Seconds one apply waits for a node's dockerd to answer before it "
                      "reports the cluster as still converging."),
    cfg.FloatOpt("stop_timeout", default=20.0, min=1.0,
                 help="Seconds a node's dockerd gets to exit after SIGTERM before SIGKILL."),
    cfg.ListOpt("host_services", default=[],
                help="Services on this host (IPv4 address:port) that a cluster template may "
                     "name as its DNS server (port 53) or HTTP(S) proxy (see [local_swarm])."),
]


LOCAL_KUBERNETES_OPTS: list[cfg.Opt] = [
    cfg.StrOpt("cache_dir", default="/var/cache/magna/kubernetes",
               help="Host-wide cache of the Kubernetes binaries built from Debian's source "
                    "package, one directory per version; shared by every conductor, checkout "
                    "and test run on the host."),
    cfg.StrOpt("default_kube_tag", default="v1.20.2",
               help="Kubernetes version of clusters whose labels name no kube_tag."),
    cfg.BoolOpt("build_on_start", default=True,
                help="A conductor starting on a host without the binaries starts the build, "
                     "so the first Kubernetes cluster waits less."),
    cfg.IntOpt("build_retry_after", default=600, min=0,
               help="Seconds after a failed build during which Kubernetes clusters fail at "
                    "once with the build's log; later, the next one starts a new build."),
]


# NOTE: a listener of its own, not a path of the API port: the API port may face tenants (with
# Keystone), the series describe every project, and Prometheus scrapes without tokens. Off by
# default because several servers may share a host (each needs a port of its own).
DASHBOARD_OPTS: list[cfg.Opt] = [
    cfg.BoolOpt("enabled", default=True,
                help="Serve the web dashboard at /dashboard of the API's port (a browser "
                     "opening / is sent there). See docs/dashboard.md."),
    cfg.StrOpt("session_key_file",
               help="File holding the key that seals the dashboard's session cookies (shared "
                    "by every magna-api worker of the host). Defaults to "
                    "state_dir/dashboard-session.key, generated on first start."),
]

METRICS_OPTS: list[cfg.Opt] = [
    cfg.HostAddressOpt("host", default="127.0.0.1",
                       help="Address the Prometheus metrics listener binds to. It asks for no "
                            "credentials: bind it to loopback or a management network only."),
    cfg.PortOpt("port", min=1,
                help="Port on which magna serve and magna-api answer Prometheus scrapes (the "
                     "API processes' series, the clusters by status and health, and for magna "
                     "serve its conductor's series). Unset: no listener. See docs/metrics.md."),
    cfg.PortOpt("conductor_port", min=1,
                help="Port on which magna-conductor answers Prometheus scrapes (its queue, "
                     "reconcile passes and driver operations). Unset: no listener. Each "
                     "conductor on one host needs a port of its own; magna serve uses port."),
    cfg.StrOpt("path", default="/metrics", regex=r"^/[A-Za-z0-9._~/-]*$",
               help="URL path of the metrics on the metrics listener (any other path is 404)."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """All option groups, for registration and for the sample generator."""
    return [
        ("DEFAULT", DEFAULT_OPTS),
        ("api", API_OPTS),
        ("database", DATABASE_OPTS),
        ("keystone_authtoken", KEYSTONE_OPTS),
        ("quotas", QUOTA_OPTS),
        ("x509", X509_OPTS),
        ("certificates", CERTIFICATES_OPTS),
        ("drivers", DRIVER_OPTS),
        ("cluster_template", CLUSTER_TEMPLATE_OPTS),
        ("conductor", CONDUCTOR_OPTS),
        ("metrics", METRICS_OPTS),
        ("dashboard", DASHBOARD_OPTS),
        ("local_nodes", LOCAL_NODES_OPTS),
        ("local_swarm", LOCAL_SWARM_OPTS),
        ("local_kubernetes", LOCAL_KUBERNETES_OPTS + LOCAL_KUBERNETES_NODE_OPTS),
    ]
