"""A sealed node's own root filesystem, and the range of host user ids its containers run as.

A node's engine runs in its own mount namespace whose ``/`` is ``<node dir>/root`` (``seal.sh``
mounts it; ``engine.py`` starts it). What that root holds on the host's disk::

    etc/            generated here: passwd, group (with ``dockremap``), subuid, subgid, hosts,
                    hostname, resolv.conf, nsswitch.conf, copies of protocols, services,
                    ld.so.cache, the CA bundle and /etc/alternatives (iptables finds its
                    backend through it), docker/daemon.json, docker/tls/, docker/plugins/
    var/lib/docker  the engine's data root
    usr/ proc/ sys/ dev/ run/ tmp/ root/    mount points (and bin, sbin, lib, lib64 as the
                    host has them: symlinks into usr/ on a usrmerged host)

The host's programs come in read-only (``READ_ONLY``: never ``/usr/local``, where an operator
may keep secrets); nothing else of the host is there: not its ``/etc``, ``/root`` or ``/home``,
not Magna's state directory or ``/run/magna``, not another node.

Containers' root is not the host's: the engine remaps it (``userns-remap``) to 65536 host ids
starting at ``id_base(subnet)``. The range follows the cluster's subnet, which is unique on the
host (``network.allocate``), so two clusters never share one, and every node of a cluster has
the same. NOTE: the subnet's number (its address without the host bits) modulo ``ID_SLOTS``
rather than its index in the pool: ranges then stay apart across state dirs with different
pools, as long as all subnets of one prefix lie within one /(prefix-14) (a /10 for /24s).
"""

from __future__ import annotations

import ipaddress
import os
import shlex
from collections.abc import Sequence

from magna.common import files

ROOT = "root"
DATA_ROOT = "var/lib/docker"
DAEMON_JSON = "etc/docker/daemon.json"
TLS_DIR = "etc/docker/tls"
PLUGINS_DIR = "etc/docker/plugins"
REMAP_USER = "dockremap"
ID_RANGE = 65536
ID_BASE = 1 << 20  # NOTE: above the usual /etc/subuid ranges of the host's own users
ID_SLOTS = 1 << 14
READ_ONLY = ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/share")
TOP_LEVEL = ("bin", "sbin", "lib", "lib64")
MOUNT_POINTS = ("usr", "proc", "sys", "dev", "run", "tmp", "etc/docker/tls",
                "etc/docker/plugins", DATA_ROOT)
COPIED = ("protocols", "services", "ld.so.cache", "ssl/certs/ca-certificates.crt")
HOST_ETC = "/etc"
LOGIN_ID = 1000  # the login user's uid and gid inside the node (ssh.py)
SSHD_ID = 101  # sshd's privilege separation user inside the node
# NOTE: /opt/magna/bin holds the node's own sudo (ssh.py); it is on no PATH of the host-root
# programs that run in the node (the engine, the Kubernetes agents).
LOGIN_PATH = "/opt/magna/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


def id_base(subnet: ipaddress.IPv4Network) -> int:
    """The first host id of the cluster's range (``ID_RANGE`` ids)."""
    number = int(subnet.network_address) >> (32 - subnet.prefixlen)
    return ID_BASE + ID_RANGE * (number % ID_SLOTS)


def read_only_dirs() -> list[str]:
    """The host's program directories a node sees (read-only), those this host has: the
    ``/usr`` ones, and ``/bin`` and friends where they are directories, not symlinks."""
    top = [f"/{name}" for name in TOP_LEVEL
           if os.path.isdir(f"/{name}") and not os.path.islink(f"/{name}")]
    return [path for path in (*READ_ONLY, *top) if os.path.isdir(path)]


def etc_files(*, hostname: str, address: str, first_id: int, dns: tuple[str, ...],
              login_user: str = "", environment: Sequence[tuple[str, str]] = ()
              ) -> dict[str, str]:
    """The node's generated ``/etc`` (path relative to the root -> text): its accounts (with
    the login user of ``ssh.py`` when the node takes SSH logins) and its environment (the
    template's proxies, for every login shell and in ``/etc/environment``)."""
    ids = f"{REMAP_USER}:{first_id}:{ID_RANGE}\n"
    return {
        "etc/passwd": ("root:x:0:0:root:/root:/bin/sh\n"
                       f"{REMAP_USER}:x:999:999::/nonexistent:/usr/sbin/nologin\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                       + _login_accounts(login_user)),
        "etc/group": (f"root:x:0:\ndocker:x:998:\n{REMAP_USER}:x:999:\nnogroup:x:65534:\n"
                      + (f"{login_user}:x:{LOGIN_ID}:\n" if login_user else "")),
        "etc/subuid": ids, "etc/subgid": ids,
        "etc/hostname": f"{hostname}\n",
        "etc/hosts": f"127.0.0.1\tlocalhost\n{address}\t{hostname}\n",
        "etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
        "etc/resolv.conf": "".join(f"nameserver {server}\n" for server in dns)
        or _host_text("resolv.conf"),
        **environment_files(environment),
    }


def _login_accounts(login_user: str) -> str:
    """The login user (no password at all: ``*`` matches none) and sshd's privilege separation
    user. NOTE: ``*``, not a locked ``!``: sshd without PAM refuses even key logins of
    accounts it considers locked."""
    if not login_user:
        return ""
    return (f"{login_user}:*:{LOGIN_ID}:{LOGIN_ID}::/home/{login_user}:/bin/bash\n"
            f"sshd:*:{SSHD_ID}:65534::/run/sshd:/usr/sbin/nologin\n")


def proxy_variables(environment: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The proxies in both spellings programs look for (``HTTP_PROXY`` and ``http_proxy``)."""
    pairs = [(name.upper(), value) for name, value in environment]
    return [*pairs, *((name.lower(), value) for name, value in pairs)]


def exempt_cluster(environment: Sequence[tuple[str, str]], subnet: str
                   ) -> list[tuple[str, str]]:
    """The proxies with the node's own cluster (its subnet, the gateway's load balancer and
    registry, loopback) added to ``NO_PROXY`` once: agents talk to their API server, and
    engines push to and pull from the cluster's registry, directly."""
    pairs = [(name.upper(), value) for name, value in environment]
    if not any(name in ("HTTP_PROXY", "HTTPS_PROXY") for name, _ in pairs):
        return pairs
    asked = [item for item in dict(pairs).get("NO_PROXY", "").split(",") if item]
    exempt = ",".join([*asked, *(item for item in ("localhost", "127.0.0.1", subnet)
                                 if item not in asked)])
    return [*((name, value) for name, value in pairs if name != "NO_PROXY"),
            ("NO_PROXY", exempt)]


def environment_files(environment: Sequence[tuple[str, str]]) -> dict[str, str]:
    """``/etc/environment`` (read by programs that take the system's environment) and a login
    shell's ``/etc/profile``, which sources ``/etc/profile.d/*.sh`` as Debian's does."""
    pairs = proxy_variables(environment)
    return {
        # NOTE: /etc/environment is KEY=VALUE lines, not shell: a value stays on its line
        "etc/environment": "".join(f"{name}={' '.join(value.splitlines())}\n"
                                   for name, value in pairs),
        "etc/profile.d/magna-proxy.sh": "".join(f"export {name}={shlex.quote(value)}\n"
                                                for name, value in pairs),
        "etc/profile": ('PATH="' + LOGIN_PATH + '"\nexport PATH\n'
                        'for script in /etc/profile.d/*.sh; do\n'
                        '  [ -r "$script" ] && . "$script"\ndone\nunset script\n'),
    }


def prepare(root: str, files: dict[str, str]) -> None:
    """The root's directories, mount points and ``/etc`` (idempotent; files written only when
    they differ, so an unchanged node costs a few reads)."""
    for directory in MOUNT_POINTS:
        # NOTE: whatever is in the way stays: the engine, not this, says what is wrong with it
        if not os.path.lexists(os.path.join(root, directory)):
            os.makedirs(os.path.join(root, directory))
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.makedirs(os.path.join(root, "root"), mode=0o700, exist_ok=True)
    for name in TOP_LEVEL:
        _top_level(root, name)
    for directory in read_only_dirs():
        os.makedirs(root + directory, exist_ok=True)
    _link(os.path.join(root, "var/run"), "../run")
    _link(os.path.join(root, "etc/mtab"), "../proc/self/mounts")
    for name in COPIED:
        if os.path.isfile(os.path.join(HOST_ETC, name)):
            _copy(os.path.join(HOST_ETC, name), os.path.join(root, "etc", name))
    _copy_alternatives(os.path.join(root, "etc/alternatives"))
    for path, text in files.items():
        write(os.path.join(root, path), text.encode())


def write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``path`` unless it holds ``data`` already (atomically when it does not)."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    files.replace(path, data, mode)


def _copy_alternatives(target: str) -> None:
    """The host's /etc/alternatives symlinks (iptables finds its backend through them), once.

    NOTE: not the manual pages' (``*.gz``, four in five on a Debian host): a symlink costs a
    quarter of a millisecond here, and 400 of them were a third of a node's build time."""
    source = os.path.join(HOST_ETC, "alternatives")
    if os.path.isdir(target) or not os.path.isdir(source):
        return
    os.makedirs(f"{target}.tmp", exist_ok=True)
    for name in os.listdir(source):
        path = os.path.join(source, name)
        if os.path.islink(path) and not name.endswith(".gz"):
            _link(os.path.join(f"{target}.tmp", name), os.readlink(path))
    os.replace(f"{target}.tmp", target)


def _top_level(root: str, name: str) -> None:
    """``bin``, ``sbin``, ``lib``, ``lib64`` as the host has them: its symlink, or a mount
    point for a read-only bind of the host's directory."""
    host = f"/{name}"
    if os.path.islink(host):
        _link(os.path.join(root, name), os.readlink(host).lstrip("/"))
    elif os.path.isdir(host):
        os.makedirs(os.path.join(root, name), exist_ok=True)


def _link(path: str, target: str) -> None:
    if os.path.islink(path) and os.readlink(path) == target:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


def _copy(source: str, target: str) -> None:
    with open(source, "rb") as handle:
        write(target, handle.read())


def _host_text(name: str) -> str:
    try:
        with open(os.path.join(HOST_ETC, name)) as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
