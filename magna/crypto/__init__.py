"""Cluster PKI: pure X.509 functions and the encrypted store for CA private keys."""
