"""The engine guard: a Docker Engine authorization plugin that refuses what would break a sealed
node (privileged containers, host namespaces, host binds, devices, added capabilities).

One host-wide process (``plugin.py``) serves every node's engine on a socket of its own; its
decisions are a pure allow-list over the Docker Engine API (``policy.py``); the node layer starts
it and hands each node its socket directory through ``service.py``. It is its own package because
it speaks the Docker Engine API as a whole, every route the engine has, while the node layer
knows no orchestrator.
"""
