"""The local Kubernetes driver: Kubernetes on the shared local nodes, from binaries built here."""
