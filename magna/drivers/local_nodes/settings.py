"""What the node layer does with a template's settings, and what it refuses.

A template's fields that describe nodes rather than the orchestrator on them (their storage,
their network, their proxies) mean the same on every driver built from local nodes, so the
node layer owns both their effect and their check. ``check`` is asked through
``OnLocalNodes.check_settings`` before anything is stored; each concern's module says what it
honours and raises ``PermanentError`` (a 400) or ``NotFound`` (a 404) naming the setting and
what is accepted. The orchestrator's own settings (its network driver, its labels) are the COE
driver's to check (``check_coe_settings``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magna.drivers.base import Settings
from magna.drivers.local_nodes import network_settings, storage

if TYPE_CHECKING:
    from magna.drivers.local_nodes.cluster import NodeSettings


def check(settings: Settings, node: NodeSettings) -> None:
    """Refuse what local nodes cannot give; return when every node setting has its effect."""
    network_settings.check(settings, node)
    storage.check(settings, kind=node.kind, root=node.root)
