"""SSH into a node with the cluster's keypair, as a user of a cloud image would: ``ssh -i key
<login user>@<node address>``, then ``sudo``.

A node is a set of the host root's namespaces, so its SSH server must not be the host's root.
It runs inside the node's namespaces (``daemons.py``) *and* in a user namespace of its own that
maps ids 0..65535 to the cluster's range (``rootfs.id_base``, the range the engine remaps
containers to): root in a session is an unprivileged host uid, with capabilities only over what
that namespace owns, which is nothing of the node's mounts, network or kernel::

    nsenter (node namespaces, as the host's root) -> magna-sshd ID_BASE (sshd.sh)
    -> unshare --user --map-users/--map-groups (maps written by Magna's newuidmap/newgidmap)
       --setuid 0 --setgid 0 -> sshd -D (root of the user namespace = host uid ID_BASE)

What the node holds for it (``prepare``), on the node's root:

- ``etc/ssh/sshd_config`` (keys only: no passwords, no keyboard-interactive, no PAM, no root
  login, one allowed user, the template's proxies as ``SetEnv``) and a host key made per node
  (owned by the mapped root, which sshd insists on);
- the login user in ``/etc/passwd`` (``rootfs.etc_files``; ``fedora``, ``core``, ``ubuntu`` or
  ``debian`` after the node's image) with no password, and ``/home/<user>/.ssh/authorized_keys``
  holding the keypair's public key, written once, when the home is made: from then on the home
  is the user's (NOTE: Magna, the host's root, never writes into a directory a session owns);
- ``sudo``: the host's is setuid to the *host's* root, which means nothing in the user
  namespace (and ``/usr`` is mounted nosuid). The node gets its own copy in ``/opt/magna/bin``
  (setuid, owned by the mapped root, with the sudoers plugin beside it) and ``/etc/sudoers``
  giving the login user ``NOPASSWD``: sudo makes a session the mapped root, no more.

The cluster's key is copied at the first build to ``<cluster dir>/ssh/authorized_keys``: nodes
added later (scaling, auto-healing) get the key the cluster was built with, even when the
keypair was deleted since (a Nova server keeps its key the same way).

The engine's socket is the mapped root's only when the driver's engines are guarded (every
call goes through the engine guard, as the TLS API's do); a driver whose engines are not
(``NodeSettings.guarded``) gives its sessions no ``docker`` (``cluster.py`` decides, through
daemon.json's ``group``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from magna.common import files
from magna.common.exceptions import PermanentError
from magna.drivers.local_nodes import daemons, rootfs
from magna.drivers.local_nodes.node import LocalNode

NAME = "magna-sshd"
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sshd.sh")
NODE_LAUNCHER = "usr/local/sbin/magna-sshd"
CONFIG = "etc/ssh/sshd_config"
HOST_KEY = "etc/ssh/ssh_host_ed25519_key"
SUDO = "opt/magna/bin/sudo"
SUDO_PLUGIN = "opt/magna/lib/sudoers.so"
HOST_SUDO = "/usr/bin/sudo"
HOST_SUDO_PLUGIN = "/usr/libexec/sudo/sudoers.so"
SUDO_ENV = "etc/sudo.env"
DOCKER_CONFIG = "opt/magna/docker"
PORT = 22
KEY_COPY = os.path.join("ssh", "authorized_keys")
# NOTE: the users the images' own guides log in as (Fedora CoreOS's is ``core``).
LOGIN_USERS = {"fedora-atomic": "fedora", "fedora-coreos": "core", "ubuntu": "ubuntu",
               "debian": "debian"}
ID_MAPPERS = "opt/magna/libexec"
# NOTE: unshare --map-users calls ``newuidmap PID INSIDE OUTSIDE COUNT`` (and newgidmap): these
# write the line as the kernel takes it; Debian's would check /etc/subuid first.
ID_MAPPER = '#!/bin/sh\nprintf "%s %s %s\\n" "$2" "$3" "$4" > "/proc/$1/{kind}_map"\n'


@dataclass(frozen=True)
class Login:
    """What a node's SSH needs: who logs in, with which key, as whom on the host."""

    user: str
    public_key: str
    id_base: int  # the cluster's first host id: the sessions' root
    environment: tuple[tuple[str, str], ...] = ()  # the template's proxies


def login_user(os_distro: str | None) -> str:
    return LOGIN_USERS.get(os_distro or "", "debian")


def cluster_key(cluster_dir: str, keypair: str | None, keypair_dir: str) -> str | None:
    """The public key of the cluster's keypair, as it was at the cluster's first build (None:
    the cluster has no keypair, and its nodes run no SSH server)."""
    if not keypair:
        return None
    copy = os.path.join(cluster_dir, KEY_COPY)
    with contextlib.suppress(FileNotFoundError), open(copy) as handle:
        return handle.read().strip()
    try:
        with open(os.path.join(keypair_dir, f"{keypair}.pub")) as handle:
            key = handle.read().strip()
    except FileNotFoundError:
        raise PermanentError(f"keypair {keypair} does not exist (any more); the cluster's "
                             "nodes need its public key for SSH logins.") from None
    os.makedirs(os.path.dirname(copy), mode=0o700, exist_ok=True)
    rootfs.write(copy, f"{key}\n".encode(), 0o600)
    return key


# -- the node's files ------------------------------------------------------------------------

def sshd_config(login: Login, address: str) -> str:
    env = " ".join(f'"{name}={value}"' for name, value in
                   rootfs.proxy_variables(login.environment))
    lines = [f"ListenAddress {address}:{PORT}", f"HostKey /{HOST_KEY}", "PidFile none",
             "PubkeyAuthentication yes", "AuthorizedKeysFile .ssh/authorized_keys",
             "PasswordAuthentication no", "KbdInteractiveAuthentication no",
             "PermitEmptyPasswords no", "HostbasedAuthentication no", "UsePAM no",
             "PermitRootLogin no", f"AllowUsers {login.user}", "StrictModes yes",
             "X11Forwarding no", "PermitUserEnvironment no", "PrintMotd no",
             f"SetEnv PATH={rootfs.LOGIN_PATH}{' ' + env if env else ''}"]
    return "".join(f"{line}\n" for line in lines)


def sudo_files(login: Login) -> dict[str, str]:
    """``/etc`` for the node's sudo: its plugin, the login user's rule, a PAM stack that never
    authenticates (the rule needs no password) and lets the account and session pass."""
    keep = " ".join(name for name, _ in rootfs.proxy_variables(login.environment))
    return {
        "etc/sudo.conf": (f"Plugin sudoers_policy /{SUDO_PLUGIN}\n"
                          f"Plugin sudoers_io /{SUDO_PLUGIN}\n"),
        "etc/sudoers": (f'Defaults secure_path="{rootfs.LOGIN_PATH}"\n'
                        "Defaults !lecture, !fqdn, !syslog\n"
                        f"Defaults env_file=/{SUDO_ENV}\n"
                        + (f'Defaults env_keep += "{keep}"\n' if keep else "")
                        + f"{login.user} ALL=(ALL:ALL) NOPASSWD: ALL\n"),
        # NOTE: the docker CLI's own directory: the node's /root is the host root's
        SUDO_ENV: f"DOCKER_CONFIG=/{DOCKER_CONFIG}\n",
        "etc/pam.d/sudo": ("auth required pam_deny.so\naccount required pam_permit.so\n"
                           "session required pam_permit.so\npassword required pam_deny.so\n"),
    }


def prepare(node: LocalNode, login: Login | None) -> None:
    """The node's SSH files for ``login``; with None, no configuration (``ensure`` then stops
    any SSH server the node runs)."""
    root = node.engine.root
    if login is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(root, CONFIG))
        return
    mapped_root = login.id_base
    _host_key(root, mapped_root)
    with open(LAUNCHER, "rb") as handle:
        rootfs.write(os.path.join(root, NODE_LAUNCHER), handle.read(), 0o755)
    for kind in ("uid", "gid"):
        rootfs.write(os.path.join(root, ID_MAPPERS, f"new{kind}map"),
                     ID_MAPPER.format(kind=kind).encode(), 0o755)
    _owned_copy(HOST_SUDO, os.path.join(root, SUDO), owner=mapped_root, mode=0o4755)
    _owned_copy(HOST_SUDO_PLUGIN, os.path.join(root, SUDO_PLUGIN), owner=mapped_root,
                mode=0o644)
    for path, text in sudo_files(login).items():
        _owned_write(os.path.join(root, path), text.encode(), owner=mapped_root,
                     mode=0o440 if path == "etc/sudoers" else 0o644)
    _home(root, login)
    os.makedirs(os.path.join(root, DOCKER_CONFIG), exist_ok=True)
    os.chown(os.path.join(root, DOCKER_CONFIG), mapped_root, mapped_root)
    rootfs.write(os.path.join(root, CONFIG), sshd_config(login, node.address).encode())


def _host_key(root: str, owner: int) -> None:
    """One ed25519 host key per node, made once, owned by the mapped root (sshd's demand)."""
    key = os.path.join(root, HOST_KEY)
    if os.path.exists(key):
        return
    with tempfile.TemporaryDirectory() as scratch:
        made = os.path.join(scratch, "key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", made],
                       check=True, capture_output=True)
        with open(f"{made}.pub", "rb") as handle:
            rootfs.write(f"{key}.pub", handle.read())
        with open(made, "rb") as handle:
            _owned_write(key, handle.read(), owner=owner, mode=0o600)


def _home(root: str, login: Login) -> None:
    """``/home/<user>`` with the key, made once and then the user's: built aside in a
    directory of the host's root and renamed into place, owned by the login user's host id."""
    homes = os.path.join(root, "home")
    home = os.path.join(homes, login.user)
    os.makedirs(homes, mode=0o755, exist_ok=True)
    if os.path.lexists(home):
        return
    building = tempfile.mkdtemp(prefix=f".{login.user}.", dir=homes)
    user = login.id_base + rootfs.LOGIN_ID
    os.mkdir(os.path.join(building, ".ssh"), 0o700)
    keys = os.path.join(building, ".ssh", "authorized_keys")
    with open(os.open(keys, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(f"{login.public_key}\n")
    for path in (keys, os.path.join(building, ".ssh"), building):
        os.chown(path, user, user)
    os.chmod(building, 0o700)
    os.rename(building, home)


def _owned_copy(source: str, target: str, *, owner: int, mode: int) -> None:
    with open(source, "rb") as handle:
        _owned_write(target, handle.read(), owner=owner, mode=mode)


def _owned_write(path: str, data: bytes, *, owner: int, mode: int) -> None:
    """``path`` holds ``data``, owned by ``owner`` with ``mode``: written aside and renamed (in
    a directory of the host's root, so a session cannot redirect the write)."""
    with contextlib.suppress(FileNotFoundError):
        info = os.lstat(path)
        with open(path, "rb") as handle:
            if (handle.read() == data and info.st_uid == owner
                    and info.st_mode & 0o7777 == mode):
                return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    files.replace(path, data, mode, owner=owner)


# -- the server ------------------------------------------------------------------------------

def configured(node: LocalNode) -> bool:
    return os.path.exists(os.path.join(node.engine.root, CONFIG))


def _digest(node: LocalNode) -> str:
    digest = hashlib.sha256()
    for path in (CONFIG, NODE_LAUNCHER, "etc/passwd"):
        with open(os.path.join(node.engine.root, path), "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def daemon(id_base: int) -> daemons.Daemon:
    return daemons.Daemon(name=NAME, argv=(f"/{NODE_LAUNCHER}", str(id_base)))


def running(node: LocalNode) -> bool:
    return configured(node) and daemons.running(node, daemon(node.engine.id_base),
                                                _digest(node))


def problem(node: LocalNode) -> str | None:
    """What healing should fix: an SSH server that should run and does not."""
    if configured(node) and daemons.pid_of(node, NAME) is None:
        return "sshd not running"
    return None


def ensure(nodes: Sequence[LocalNode]) -> list[str]:
    """Every node whose engine runs has the SSH server its files ask for (or none); the names
    of the nodes where it had to be (re)started."""
    started = []
    for node in nodes:
        if daemons.node_init(node) is None:
            continue  # NOTE: the node is down; starting its engine brings this back here
        if not configured(node):
            daemons.stop(node, NAME, timeout=2.0)
        elif not running(node):
            start(node)
            started.append(node.name)
    return started


def start(node: LocalNode) -> int:
    """Start the node's SSH server (stopping an older one); its host pid."""
    id_base = node.engine.id_base
    _privsep_dir(node, id_base)
    # NOTE: port 22 from a user namespace the node's network namespace does not belong to
    # needs the unprivileged port range to start there (this namespace's setting only).
    node.run("sysctl", "-q", "-w", f"net.ipv4.ip_unprivileged_port_start={PORT}")
    return daemons.start(node, daemon(id_base), _digest(node))


def stop(node: LocalNode) -> None:
    daemons.stop(node, NAME, timeout=2.0)


def _privsep_dir(node: LocalNode, owner: int) -> None:
    """``/run/sshd``, sshd's empty privilege separation directory, owned by its root."""
    path = os.path.join(node.engine.run_dir, "sshd")
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o755)
    os.chown(path, owner, owner, follow_symlinks=False)
