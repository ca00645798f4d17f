"""The conductor: turns the desired state the API stored into real infrastructure.

Flow: nudges (``magna.messaging``) and a periodic sweep put cluster UUIDs on a ``WorkQueue``;
worker threads take one at a time, and ``reconciler.reconcile`` reserves the cluster with a
compare-and-swap, builds a ``ClusterSpec``, calls the driver, and writes the observed status,
events and ``observed_generation`` back. Conductors heartbeat into ``magnum_service`` and divide
clusters between them with a consistent hash ring over the live ones (``ring``).
"""
