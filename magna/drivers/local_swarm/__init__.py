"""The default driver: Docker Swarm-mode clusters built from network namespaces on this host."""
