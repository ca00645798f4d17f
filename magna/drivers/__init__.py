"""Cluster drivers: what turns a stored cluster into real infrastructure.

Drivers load from the ``magna.drivers`` entry-point group and are enabled by
``[drivers] enabled_drivers``. Each says which (server_type, os_distro, coe) it provides and
exposes a catalog of the images, flavors, networks and keypairs a template may name.
"""
