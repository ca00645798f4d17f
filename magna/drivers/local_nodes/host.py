"""The host local nodes are built on: required tools, kernel features, commands, iptables.

Every other module of the driver changes the host only through ``run`` (a command that must
succeed, its stderr becoming the error text) or ``probe`` (a command whose failure is an answer),
so what the driver does to the machine can be read in one place per piece. Missing tools are a
``PermanentError`` that says what to install: the user (or operator) must fix it, retrying cannot.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from magna.common.exceptions import PermanentError
from magna.hostcheck.requirements import ENGINE_TOOLS

# tool -> the Debian package that provides it (what every node needs; ``magna.hostcheck`` checks
# these and more for ``magna status``)
TOOLS = ENGINE_TOOLS


# NOTE: every cluster's bridge is mgb<short id> (network.bridge_name); the rules of clusters on
# a fixed network name them all with iptables' wildcard ``mgb+``.
BRIDGES = "mgb"


class CommandFailed(Exception):
    def __init__(self, args: Sequence[str], stderr: str) -> None:
        super().__init__(f"{' '.join(args)}: {stderr.strip() or 'failed'}")
        self.stderr = stderr


def require_tools(kind: str, dockerd: str = "dockerd") -> None:
    """``kind``: the driver asking, as messages name it; ``dockerd``: the engine binary its
    ``dockerd`` option names."""
    tools = {**TOOLS, dockerd: TOOLS["dockerd"]}
    if dockerd != "dockerd":
        del tools["dockerd"]
    missing = sorted({pkg for tool, pkg in tools.items() if not _which(tool)})
    if missing:
        raise PermanentError(f"The {kind} driver needs {', '.join(missing)} on the "
                             f"conductor's host: apt-get install {' '.join(missing)}")


def _which(tool: str) -> str | None:
    return shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def has_ipvs() -> bool:
    return os.path.exists("/proc/net/ip_vs")


def run(*args: str) -> str:
    """Run a command that must succeed; return its stdout."""
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CommandFailed(args, done.stderr)
    return done.stdout


def probe(*args: str) -> bool:
    """Run a command whose exit status is the answer."""
    return subprocess.run(args, capture_output=True, check=False).returncode == 0


@dataclass(frozen=True)
class ForwardRule:
    """One rule in the filter table's FORWARD chain, inserted first so Docker's DROP policy
    (or anything else) does not decide for our bridges."""

    spec: tuple[str, ...]

    def build(self) -> list[str]:
        return ["FORWARD", *self.spec]

    def apply(self) -> None:
        ensure_rule("iptables", self.build())

    def delete(self) -> None:
        while probe("iptables", "-w", "-C", *self.build()):
            run("iptables", "-w", "-D", *self.build())


def bridge_rules(bridge: str, shared: ipaddress.IPv4Network | None = None
                 ) -> list[ForwardRule]:
    """Nodes of one cluster talk to each other; nothing is routed into or out of the cluster,
    except, for a cluster on a fixed network (``shared``: its CIDR), to and from the clusters
    on the same network.

    NOTE: with br_netfilter loaded, frames between ports of one bridge traverse FORWARD too,
    hence the first rule. The host itself reaches the nodes through the bridge's own address
    (INPUT/OUTPUT), which these rules do not touch. Traffic leaving the cluster is rejected
    rather than dropped, so a node's DNS lookup or pull from a public registry fails at once
    instead of waiting for a timeout.
    """
    if shared is None:
        return [ForwardRule(("-i", bridge, "-o", bridge, "-j", "ACCEPT")),
                ForwardRule(("-i", bridge, "!", "-o", bridge, "-j", "REJECT")),
                ForwardRule(("-o", bridge, "!", "-i", bridge, "-j", "DROP"))]
    return shared_rules(bridge, str(shared))


def shared_rules(bridge: str, cidr: str) -> list[ForwardRule]:
    """The FORWARD rules of a bridge on a fixed network of CIDR ``cidr``.

    NOTE: every rule is inserted first in FORWARD, so after a crash they may stand in any order
    among themselves and the other bridges' rules. They are written so that order never
    matters: for any packet the host routes, the ACCEPTs that match and the REJECT/DROPs that
    match are never both non-empty (``tests/unit/test_bridge_rules.py``). Leaving the bridge:
    to another cluster bridge (``mgb+``), from and to the network's CIDR, is accepted;
    anything else (``! -o mgb+``, or ``! -s``, or ``! -d`` the CIDR) is rejected. Entering it
    from another interface: dropped unless it comes from a cluster bridge with a source in
    the CIDR, and then the sending bridge's own rules decide (a bridge not on the network
    rejects everything leaving it, whatever source a node forges). Only clusters on this
    network have subnets in the CIDR (``private_networks`` keeps it apart from the pools), so
    what is accepted reaches their nodes and no one else.
    """
    return [ForwardRule(("-i", bridge, "-o", bridge, "-j", "ACCEPT")),
            ForwardRule(("-s", cidr, "-d", cidr, "-i", bridge, "-o", f"{BRIDGES}+", "-j",
                         "ACCEPT")),
            ForwardRule(("-i", bridge, "!", "-o", f"{BRIDGES}+", "-j", "REJECT")),
            ForwardRule(("!", "-s", cidr, "-i", bridge, "!", "-o", bridge, "-j", "REJECT")),
            ForwardRule(("!", "-d", cidr, "-i", bridge, "!", "-o", bridge, "-j", "REJECT")),
            ForwardRule(("!", "-i", f"{BRIDGES}+", "-o", bridge, "-j", "DROP")),
            ForwardRule(("!", "-s", cidr, "!", "-i", bridge, "-o", bridge, "-j", "DROP"))]


# NOTE: the chains our rules live in: FORWARD (``bridge_rules``) and INPUT (the fence's jump,
# the registry's guard), for IPv6 INPUT too (the fence's drop).
SCANNED = (("iptables", "FORWARD"), ("iptables", "INPUT"), ("ip6tables", "INPUT"))


def rules_mentioning(word: str, *, tool: str = "iptables",
                     chain: str = "FORWARD") -> list[list[str]]:
    """Rules of ``chain`` (as ``iptables -S`` arguments after ``-A``) that name ``word``."""
    found = []
    for line in run(tool, "-w", "-S", chain).splitlines():
        fields = line.split()
        if fields[:1] == ["-A"] and word in fields:
            found.append(fields[1:])
    return found


def delete_rules_mentioning(word: str) -> None:
    """Every FORWARD or INPUT rule naming ``word`` (a bridge, a chain) goes."""
    for tool, chain in SCANNED:
        try:
            found = rules_mentioning(word, tool=tool, chain=chain)
        except CommandFailed:
            if tool == "iptables":
                raise
            found = []  # NOTE: a kernel without IPv6 has no ip6tables rules to remove
        for rule in found:
            probe(tool, "-w", "-D", *rule)


def ensure_rule(tool: str, rule: Sequence[str]) -> None:
    """``rule`` (a chain, then a match) exists, inserted first in its chain if it did not."""
    if not probe(tool, "-w", "-C", *rule):
        run(tool, "-w", "-I", *rule)


def replace_chain(chain: str, rules: Sequence[Sequence[str]]) -> None:
    """The filter table's ``chain`` holds exactly ``rules`` (each without ``-A chain``).

    NOTE: one ``iptables-restore --noflush`` transaction declares (creating or flushing) the
    chain and fills it, so no packet ever meets the chain half-written; the other chains are
    left alone."""
    lines = ["*filter", f":{chain} - [0:0]",
             *(" ".join(["-A", chain, *rule]) for rule in rules), "COMMIT", ""]
    done = subprocess.run(["iptables-restore", "-w", "--noflush"], input="\n".join(lines),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CommandFailed(["iptables-restore", "--noflush", chain], done.stderr)


def delete_chain(chain: str) -> None:
    """Remove the filter table's ``chain`` and every rule jumping to it (idempotent)."""
    delete_rules_mentioning(chain)
    if probe("iptables", "-w", "-S", chain):
        probe("iptables", "-w", "-F", chain)
        probe("iptables", "-w", "-X", chain)
