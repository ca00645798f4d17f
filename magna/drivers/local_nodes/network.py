"""A cluster's network on this host: a subnet from the pool, a bridge, and per node a namespace
joined to the bridge by a veth pair.

Subnets are allocated under a lock shared by every process using the same state directory: the
first free subnet, probing from a position derived from the cluster id (deterministic for a
cluster, collision-free across clusters), recorded in the cluster's ``network.json`` before any
interface exists. The bridge holds the subnet's first address, so the host reaches every node;
the iptables rules of ``host.bridge_rules`` keep clusters from reaching each other (but for
clusters on the same fixed network, ``private_networks``: their subnets come from its CIDR, a
pool of its own, and they reach each other), and the
fence of ``fence.py`` keeps nodes from reaching the host's own services.

Each piece has a pure ``build()`` (the names and addresses it stands for) and idempotent
``apply()``/``delete()`` that compare with what the kernel has, so any partial state converges.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from magna.common import files
from magna.common.exceptions import PermanentError
from magna.drivers.local_nodes import host

NETWORK_FILE = "network.json"
OWNER_FILE = "owner.json"
NS_DIR = "/run/netns"
PEER = "eth0"
ADDRESS_SET = "3"  # /sys/class/net/*/addr_assign_type of an address set from user space


def short_id(cluster_uuid: str) -> str:
    """8 hex characters naming the cluster's interfaces and namespaces (Linux allows 15)."""
    return cluster_uuid.replace("-", "")[:8].lower()


def bridge_name(cluster_uuid: str) -> str:
    return f"mgb{short_id(cluster_uuid)}"


def netns_name(cluster_uuid: str, node: str) -> str:
    return f"magna-{short_id(cluster_uuid)}-{node}"


@dataclass(frozen=True)
class Allocation:
    subnet: ipaddress.IPv4Network

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return self.subnet.network_address + 1

    def address(self, slot: int) -> ipaddress.IPv4Address:
        """Node slot 1 is the subnet's .2; the bridge has .1."""
        if not 1 <= slot <= self.subnet.num_addresses - 3:
            raise PermanentError(f"Subnet {self.subnet} has no room for node number {slot}.")
        return self.subnet.network_address + 1 + slot


def room(prefix: int) -> int:
    """How many nodes one cluster subnet of ``/prefix`` holds (not the network address, the
    bridge's ``.1``, nor the broadcast address)."""
    return int(2 ** (32 - prefix)) - 3


@dataclass(frozen=True)
class SubnetPool:
    """Where cluster subnets come from, and the words a message about it uses.

    NOTE: ``kind`` (how messages name the driver's clusters) and ``group`` (its configuration
    group) belong to the driver using the node layer: each driver has its own group, and a
    message must name the option the operator would change."""

    cidr: str
    prefix: int
    kind: str
    group: str
    # NOTE: a fixed network's pool (``private_networks``) says so in its messages
    label: str = ""  # what the pool is, e.g. "fixed network shared"; default: the driver's
    widen: str = ""  # how the operator makes room; default: widen [group] subnet_pool


def check_room(nodes: int, pool: SubnetPool) -> None:
    if nodes > room(pool.prefix):
        raise PermanentError(
            f"A {pool.kind} cluster holds at most {room(pool.prefix)} nodes (one "
            f"/{pool.prefix} subnet per cluster), not {nodes}; ask for fewer nodes, or have "
            f"the operator give clusters larger subnets with a smaller [{pool.group}] "
            f"subnet_prefix.")


@contextlib.contextmanager
def locked(root: str) -> Iterator[None]:
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def read_allocation(cluster_dir: str) -> Allocation | None:
    try:
        with open(os.path.join(cluster_dir, NETWORK_FILE)) as handle:
            return Allocation(ipaddress.IPv4Network(json.load(handle)["subnet"]))
    except FileNotFoundError:
        return None


def allocate(root: str, cluster_uuid: str, pool: SubnetPool, *, run_root: str) -> Allocation:
    """The cluster's subnet: the recorded one, or the first free one (recorded now).

    NOTE: the lock and the owner records live in ``run_root``, which every Magna on this host
    shares whatever its state dir, so two services (or two test runs) never pick one subnet.
    """
    cluster_dir = os.path.join(root, cluster_uuid)
    with locked(run_root):
        found = read_allocation(cluster_dir)
        if found is None:
            taken = _taken(root) | _taken_on_host(run_root)
            found = Allocation(_first_free(cluster_uuid, pool, taken))
            os.makedirs(cluster_dir, exist_ok=True)
            write_json(os.path.join(cluster_dir, NETWORK_FILE),
                       {"subnet": str(found.subnet), "short_id": short_id(cluster_uuid)})
        _record_owner(run_root, cluster_uuid, cluster_dir, found)
        return found


def _record_owner(run_root: str, cluster_uuid: str, cluster_dir: str,
                  allocation: Allocation) -> None:
    path = os.path.join(run_root, short_id(cluster_uuid), OWNER_FILE)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_json(path, {"uuid": cluster_uuid, "cluster_dir": cluster_dir,
                          "subnet": str(allocation.subnet), "short_id": short_id(cluster_uuid)})


def _taken_on_host(run_root: str) -> set[tuple[str, str]]:
    """(subnet, short id) of every cluster of any state dir with runtime state on this host."""
    taken = set()
    for entry in os.listdir(run_root):
        with contextlib.suppress(OSError, ValueError, KeyError), \
                open(os.path.join(run_root, entry, OWNER_FILE)) as handle:
            record = json.load(handle)
            taken.add((record["subnet"], record["short_id"]))
    return taken


def _subnets(pool: SubnetPool) -> list[ipaddress.IPv4Network]:
    try:
        return list(ipaddress.IPv4Network(pool.cidr).subnets(new_prefix=pool.prefix))
    except ValueError as exc:
        raise PermanentError(f"[{pool.group}] subnet_pool/subnet_prefix are unusable: {exc}"
                             ) from None


def _taken(root: str) -> set[tuple[str, str]]:
    """(subnet, short id) of every cluster with an allocation under ``root``."""
    taken = set()
    for entry in os.listdir(root) if os.path.isdir(root) else []:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, ValueError, KeyError), \
                open(os.path.join(root, entry, NETWORK_FILE)) as handle:
            record = json.load(handle)
            taken.add((record["subnet"], record["short_id"]))
    return taken


def _first_free(cluster_uuid: str, pool: SubnetPool,
                taken: set[tuple[str, str]]) -> ipaddress.IPv4Network:
    subnets = _subnets(pool)
    if short_id(cluster_uuid) in {short for _, short in taken}:
        raise PermanentError(f"Another cluster on this host shares the id prefix "
                             f"{short_id(cluster_uuid)}; recreate the cluster.")
    used = {subnet for subnet, _ in taken}
    busy = host_networks()
    start = int(hashlib.sha256(cluster_uuid.encode()).hexdigest(), 16) % len(subnets)
    for index in range(len(subnets)):
        candidate = subnets[(start + index) % len(subnets)]
        if str(candidate) not in used and not any(candidate.overlaps(n) for n in busy):
            return candidate
    what = pool.label or f"{pool.kind} subnet pool"
    widen = pool.widen or f"widen [{pool.group}] subnet_pool"
    raise PermanentError(f"The {what} is exhausted ({len(subnets)} clusters); "
                         f"delete a cluster or {widen}.")


def host_networks() -> list[ipaddress.IPv4Network]:
    """Networks of the host's IPv4 addresses: a subnet in use there (another state dir's
    cluster, or anything else) is not free, whatever our records say."""
    return [interface.network for interface in host_interfaces()]


def host_addresses() -> list[str]:
    """Every IPv4 address the host holds (loopback, its uplinks, every cluster's gateway)."""
    return [str(interface.ip) for interface in host_interfaces()]


def host_interfaces() -> list[ipaddress.IPv4Interface]:
    found = []
    for line in host.run("ip", "-o", "-4", "addr", "show").splitlines():
        fields = line.split()
        if "inet" in fields:
            found.append(ipaddress.IPv4Interface(fields[fields.index("inet") + 1]))
    return found


def write_json(path: str, record: object) -> None:
    files.replace(path, json.dumps(record, indent=1).encode())


def _link_exists(name: str, netns: str | None = None) -> bool:
    prefix = ("ip", "-n", netns) if netns else ("ip",)
    return host.probe(*prefix, "link", "show", "dev", name)


def _addresses(name: str, netns: str | None = None) -> str:
    prefix = ("ip", "-n", netns) if netns else ("ip",)
    return host.run(*prefix, "-o", "addr", "show", "dev", name)


def _pin_address(name: str) -> None:
    """Keep an interface's MAC what it is now (``addr_assign_type`` 3: set by the user)."""
    sysfs = f"/sys/class/net/{name}"
    with open(f"{sysfs}/addr_assign_type") as kind, open(f"{sysfs}/address") as address:
        if kind.read().strip() != ADDRESS_SET:
            host.run("ip", "link", "set", "dev", name, "address", address.read().strip())


def _delete_link(name: str) -> None:
    """Delete a host interface if it exists.

    NOTE: it may vanish between the check and the deletion (the kernel removing a veth with
    its namespace, a garbage collector elsewhere on the host removing the same cluster): a
    failure counts only if the interface is still there."""
    if _link_exists(name) and not host.probe("ip", "link", "del", name) and _link_exists(name):
        host.run("ip", "link", "del", name)


@dataclass(frozen=True)
class Bridge:
    name: str
    allocation: Allocation
    shared: ipaddress.IPv4Network | None = None  # the CIDR of the cluster's fixed network

    def build(self) -> str:
        return f"{self.allocation.gateway}/{self.allocation.subnet.prefixlen}"

    @property
    def mac(self) -> str:
        """The bridge's own MAC address: locally administered, derived from its name."""
        digest = hashlib.sha256(self.name.encode()).digest()
        return ":".join(f"{byte:02x}" for byte in (0x02, *digest[:5]))

    def apply(self) -> None:
        # NOTE: the MAC is set, never left to the kernel: a bridge whose address was not set
        # takes the lowest of its ports' addresses, so adding a node could change it. Nodes
        # that had resolved the gateway then sent to the old address, which the host drops
        # as not its own until their ARP entry expires: replies to the conductor were
        # retransmitted with backoff, and the answer to a call made while a node joined came
        # 12-50 s late (a third of the 1+9 creates, bench/notes.md). A bridge made before
        # keeps its address, pinned.
        if not _link_exists(self.name):
            host.run("ip", "link", "add", self.name, "address", self.mac, "type", "bridge")
        _pin_address(self.name)
        if f" {self.build()} " not in _addresses(self.name):
            host.run("ip", "addr", "add", self.build(), "dev", self.name)
        host.run("ip", "link", "set", self.name, "up")
        for rule in host.bridge_rules(self.name, self.shared):
            rule.apply()
        # NOTE: forwarding on this bridge only (after its rules exist): what a node sends
        # beyond the cluster then meets the REJECT rule and fails at once, where a host that
        # does not forward would drop it silently and a DNS lookup would wait for its timeout.
        with open(f"/proc/sys/net/ipv4/conf/{self.name}/forwarding", "w") as handle:
            handle.write("1\n")

    def delete(self) -> None:
        _delete_link(self.name)
        host.delete_rules_mentioning(self.name)


@dataclass(frozen=True)
class NodeNetwork:
    """One node's namespace, with ``eth0`` (the veth peer) on the cluster's bridge."""

    netns: str
    veth: str
    bridge: str
    address: ipaddress.IPv4Address
    allocation: Allocation

    def build(self) -> str:
        return f"{self.address}/{self.allocation.subnet.prefixlen}"

    def apply(self) -> None:
        if not os.path.exists(os.path.join(NS_DIR, self.netns)):
            host.run("ip", "netns", "add", self.netns)
        host.run("ip", "-n", self.netns, "link", "set", "lo", "up")
        if not _link_exists(PEER, self.netns):
            if _link_exists(self.veth):
                host.run("ip", "link", "del", self.veth)  # a half-made pair: start over
            host.run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", PEER,
                     "netns", self.netns)
        host.run("ip", "link", "set", self.veth, "master", self.bridge, "up")
        if f" {self.build()} " not in _addresses(PEER, self.netns):
            host.run("ip", "-n", self.netns, "addr", "add", self.build(), "dev", PEER)
        host.run("ip", "-n", self.netns, "link", "set", PEER, "up")
        host.run("ip", "-n", self.netns, "route", "replace", "default", "via",
                 str(self.allocation.gateway))

    def delete(self) -> None:
        if os.path.exists(os.path.join(NS_DIR, self.netns)):
            host.run("ip", "netns", "del", self.netns)
        # NOTE: the kernel removes the veth pair with the namespace, asynchronously.
        _delete_link(self.veth)


def namespaces_of(cluster_uuid: str) -> list[str]:
    prefix = f"magna-{short_id(cluster_uuid)}-"
    if not os.path.isdir(NS_DIR):
        return []
    return sorted(name for name in os.listdir(NS_DIR) if name.startswith(prefix))


def veths_of(cluster_uuid: str) -> list[str]:
    prefix = f"mgv{short_id(cluster_uuid)}"
    return sorted(name for name in os.listdir("/sys/class/net") if name.startswith(prefix))


def pids_in_namespaces(names: list[str]) -> set[int]:
    """Processes in any of the named network namespaces, found in one pass over ``/proc``.

    NOTE: what ``ip netns pids`` does, without a program per namespace: a process is in a
    namespace when its ``/proc/<pid>/ns/net`` is the same file as ``/run/netns/<name>``."""
    wanted = set()
    for name in names:
        with contextlib.suppress(OSError):
            found = os.stat(os.path.join(NS_DIR, name))
            wanted.add((found.st_dev, found.st_ino))
    pids = set()
    for entry in os.listdir("/proc") if wanted else []:
        if entry.isdigit():
            with contextlib.suppress(OSError):
                found = os.stat(f"/proc/{entry}/ns/net")
                if (found.st_dev, found.st_ino) in wanted:
                    pids.add(int(entry))
    return pids
