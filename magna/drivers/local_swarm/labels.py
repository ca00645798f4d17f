"""The labels Magnum documents for Swarm clusters, and what the local Swarm driver does with each.

Magnum's Swarm drivers read ``swarm_strategy`` (classic Swarm's scheduler), the ``flannel_*``
labels (its flannel network driver), ``rexray_preempt`` (its rexray volume driver),
``docker_volume_type`` and ``availability_zone`` (Cinder and Nova), and the cluster-wide
``auto_healing_enabled``, ``min_node_count`` and ``max_node_count``. Here a swarm is sealed
local nodes on one host whose engines network with Docker's own overlays, so: the scheduler
label places Magna's ``/v1/containers`` (``placement.py``), healing and the worker bounds are
honoured, and the rest are refused unless they ask for nothing. ``magna/drivers/labels.py`` says
how a rule is read; ``docs/template-settings.md`` is rendered from ``RULES``.
"""

from __future__ import annotations

from magna.drivers import labels
from magna.drivers.labels import LabelRule
from magna.drivers.local_swarm import placement

NO_FLANNEL = ("this driver's network driver is docker (swarm-mode overlay networks); there is "
              "no flannel to configure.")

RULES: tuple[LabelRule, ...] = (
    labels.choice(
        "swarm_strategy", placement.STRATEGIES, default=placement.DEFAULT,
        effect="Where /v1/containers places a new container: spread (the node running the "
               "fewest Magna containers), binpack (the node running the most), random (a node "
               "drawn with the container's UUID as seed, so a repeated pass picks the same "
               "one). Ties go to the first node, masters first. Swarm services are scheduled "
               "by swarm-mode itself."),
    labels.boolean(
        "auto_healing_enabled",
        effect="true: a worker still unhealthy after Magna restarted its engine is replaced by "
               "a new node (dead engines are restarted either way)."),
    *labels.NODE_COUNT_BOUNDS,
    labels.absent("flannel_network_cidr", what=NO_FLANNEL),
    labels.absent("flannel_network_subnetlen", what=NO_FLANNEL),
    labels.absent("flannel_backend", what=NO_FLANNEL),
    labels.off_only("rexray_preempt", what="rexray (Cinder-backed volumes taken over between "
                                           "hosts)"),
    labels.absent("docker_volume_type",
                  what="there are no volume types: docker_volume_size gives each node a "
                       "filesystem on this host."),
    labels.absent("availability_zone",
                  what="every node runs on this host, which is one zone."),
)
