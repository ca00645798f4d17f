"""The Kubernetes driver on the shared local node layer."""
