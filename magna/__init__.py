"""Magna: the OpenStack Magnum container infrastructure API, reimplemented in Python."""
