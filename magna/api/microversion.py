"""Microversion negotiation: the ``OpenStack-API-Version`` request and response headers."""

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


def parse(value: str) -> Version:
    match = _VERSION_RE.match(value)
    if not match:
        raise NotAcceptable(f"Invalid microversion: {value}")
    return Version(int(match.group(1)), int(match.group(2)))


def negotiate(header: str | None) -> Version:
    """The version a request is served at; absent means the minimum, as upstream."""
    if header is None:
        return MIN_VERSION
    parts = header.strip().split()
    if len(parts) != 2 or parts[0].lower() not in ACCEPTED_SERVICES:
        raise NotAcceptable(f"Invalid OpenStack-API-Version header: {header}")
    if parts[1].lower() == "latest":
        return MAX_VERSION
    version = parse(parts[1])
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise UnsupportedMicroversion(str(MIN_VERSION), str(MAX_VERSION))
    return version


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
