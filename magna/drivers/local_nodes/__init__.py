"""Local drivers whose nodes are sealed: each node has its own root, namespaces and engine."""
