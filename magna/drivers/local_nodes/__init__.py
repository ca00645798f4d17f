"""The node layer: cluster nodes made of network namespaces on this host, each with its own
Docker Engine, for any COE driver to build on (``cluster.LocalNodes``; the ``node.Node``
interface a driver uses a node through). It knows no orchestrator and imports no driver.
"""
