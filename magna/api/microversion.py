"""Microversion negotiation: the ``OpenStack-API-Version`` request and response headers.

A request names its version in the header; without one it is served at 1.1, as upstream, except
on the two cluster actions openstacksdk calls (see ``UNVERSIONED``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from magna.common.exceptions import NotAcceptable, UnsupportedMicroversion

SERVICE = "container-infrastructure-management"
ACCEPTED_SERVICES = {SERVICE, "container-infrastructure", "container-infra"}
HEADER = "openstack-api-version"
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


class Version(NamedTuple):
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


MIN_VERSION = Version(1, 1)
MAX_VERSION = Version(1, 14)

# NOTE: openstacksdk never sends OpenStack-API-Version, so its Cluster.resize and
# Cluster.upgrade arrive at 1.1, where neither endpoint exists: upstream answers 406 and no SDK
# user can resize or upgrade. A request *without* the header to one of these endpoints is served
# at the version that introduced it (older clients cannot have meant anything else there); a
# request that names a version keeps upstream's 406 below it.
UNVERSIONED = (
    (re.compile(r"^/v1/clusters/[^/]+/actions/resize$"), Version(1, 7)),
    (re.compile(r"^/v1/clusters/[^/]+/actions/upgrade$"), Version(1, 8)),
)


def parse(value: str) -> Version:
    match = _VERSION_RE.match(value)
    if not match:
        raise NotAcceptable(f"Invalid microversion: {value}")
    return Version(int(match.group(1)), int(match.group(2)))


def negotiate(header: str | None, path: str = "") -> Version:
    """The version a request for ``path`` is served at; absent means ``unversioned(path)``."""
    if header is None:
        return unversioned(path)
    parts = header.strip().split()
    if len(parts) != 2 or parts[0].lower() not in ACCEPTED_SERVICES:
        raise NotAcceptable(f"Invalid OpenStack-API-Version header: {header}")
    if parts[1].lower() == "latest":
        return MAX_VERSION
    version = parse(parts[1])
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise UnsupportedMicroversion(str(MIN_VERSION), str(MAX_VERSION))
    return version


def unversioned(path: str) -> Version:
    """The version of a request that names none: 1.1, or the SDK actions' own (``UNVERSIONED``)."""
    for pattern, version in UNVERSIONED:
        if pattern.match(path):
            return version
    return MIN_VERSION


def response_headers(version: Version) -> list[tuple[bytes, bytes]]:
    return [
        (b"openstack-api-minimum-version", f"{SERVICE} {MIN_VERSION}".encode()),
        (b"openstack-api-maximum-version", f"{SERVICE} {MAX_VERSION}".encode()),
        (b"openstack-api-version", f"{SERVICE} {version}".encode()),
        (b"vary", b"OpenStack-API-Version"),
    ]


def require(version: Version, minimum: Version) -> None:
    """406 when an endpoint does not exist at the requested version."""
    if version < minimum:
        raise NotAcceptable(f"This endpoint needs API version {minimum} or later.")
