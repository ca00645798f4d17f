"""A template's network settings on local nodes: what each means here, and what is refused.

- ``fixed_network`` / ``fixed_subnet``: a private network of the catalog
  (``private_networks``); the cluster's subnet comes from its CIDR and clusters on the same
  network reach each other. Unknown: 404 in upstream's words; a subnet of another network: 400.
- ``external_network_id``: the external network is ``public``, this host, from which every
  node's address is reached (the API checks it against the catalog).
- ``floating_ip_enabled``: true is what local nodes always are (each node's address is reached
  from the host, as a floating IP would be); false is refused: the conductor itself reaches
  the nodes' engines through those addresses, and on one host nothing tells its connections
  from a user's.
- ``apiserver_port``: the driver's own port only (its engines' or API servers' port, which the
  balancer, the fence and the certificates are built around); another is refused, naming it.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from magna.common.exceptions import NotFound, PermanentError
from magna.drivers.base import ClusterSpec, Settings
from magna.drivers.local_nodes import network, private_networks

if TYPE_CHECKING:
    from magna.drivers.local_nodes.cluster import NodeSettings


def check(settings: Settings, node: NodeSettings) -> None:
    """Refuse a network setting local nodes cannot honour (``NotFound``: an unknown network)."""
    private_networks.find(node.networks, fixed_network=settings.fixed_network,
                          fixed_subnet=settings.fixed_subnet)
    if not settings.floating_ip_enabled:
        raise PermanentError(
            f"floating_ip_enabled false is not available on the {node.kind} driver: every "
            f"node's address is reachable from this host (Magna reaches the nodes' engines "
            f"through it), as a floating IP would be; leave it true.")
    if settings.apiserver_port is not None and settings.apiserver_port != node.api_port:
        raise PermanentError(
            f"apiserver_port {settings.apiserver_port} is not available on the {node.kind} "
            f"driver; its clusters serve their API on port {node.api_port}.")


def placement(spec: ClusterSpec, node: NodeSettings
              ) -> tuple[network.SubnetPool, private_networks.PrivateNetwork | None]:
    """The pool the cluster's subnet comes from and the fixed network it is on (None: the
    driver's own pool, the cluster alone on its subnet)."""
    try:
        chosen = private_networks.find(node.networks, fixed_network=spec.fixed_network,
                                       fixed_subnet=spec.fixed_subnet)
    except (NotFound, PermanentError) as exc:  # NOTE: the operator removed the network
        raise PermanentError(f"The cluster's fixed network is gone from "
                             f"{private_networks.OPTION}: {exc}") from None
    return (node.pool, None) if chosen is None else (chosen.pool(node.pool), chosen)


def shared_cidr(allocation: network.Allocation,
                fixed: private_networks.PrivateNetwork | None) -> ipaddress.IPv4Network | None:
    """The CIDR the cluster shares with the other clusters of its fixed network (None: on
    none); its subnet must still lie in it."""
    if fixed is None:
        return None
    if not allocation.subnet.subnet_of(fixed.cidr):
        raise PermanentError(f"The cluster's subnet {allocation.subnet} is not in its fixed "
                             f"network {fixed.name} ({fixed.cidr}) any more; the operator "
                             f"changed {private_networks.OPTION}.")
    return fixed.cidr
