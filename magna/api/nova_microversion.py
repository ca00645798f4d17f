"""Nova's microversions for Magna's compute subset (``resources/compute.py``).

Clients send ``OpenStack-API-Version: compute X.Y`` and the older
``X-OpenStack-Nova-API-Version: X.Y`` (openstacksdk sends both); absent means 2.1, ``latest``
the maximum, as Nova. Magna serves 2.1 to ``MAX_VERSION`` and behaves as Nova does at the
versions that change what keypair and flavor calls look like:

- 2.2: keypairs have a ``type``; create answers 201 and delete 204 (before: 200 and 202);
- 2.10: an administrator may name another user (``user_id``);
- 2.35: keypair lists page (``limit``, ``marker``);
- 2.55: flavors have a ``description``; 2.61: their ``extra_specs``; 2.75: ``swap`` is 0, not "";
- 2.92: a keypair create must carry its ``public_key`` (before, the server generates one).

Every other microversion of that range changes only calls Magna does not offer (servers, …).
"""

from __future__ import annotations

import re

from magna.api.microversion import Version
from magna.common.exceptions import Invalid, NotAcceptable

MIN_VERSION = Version(2, 1)
MAX_VERSION = Version(2, 96)
LEGACY_HEADER = "x-openstack-nova-api-version"
HEADER = "openstack-api-version"
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


def requested(headers: dict[str, str]) -> str | None:
    """The version asked for: ``OpenStack-API-Version``'s compute entry, else the legacy
    header (``headers`` has lower-case names)."""
    for entry in headers.get(HEADER, "").split(","):
        parts = entry.split()
        if len(parts) == 2 and parts[0].lower() == "compute":
            return parts[1]
    return headers.get(LEGACY_HEADER)


def negotiate(value: str | None) -> Version:
    if value is None:
        return MIN_VERSION
    if value.strip().lower() == "latest":
        return MAX_VERSION
    match = _VERSION_RE.match(value.strip())
    if not match:
        raise Invalid(f"API Version String {value} is of invalid format. Must be of format "
                      "MajorNum.MinorNum.")
    version = Version(int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise NotAcceptable(f"Version {version} is not supported by the API. Minimum is "
                            f"{MIN_VERSION} and maximum is {MAX_VERSION}.")
    return version


def response_headers(version: Version) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {version}",
            "X-OpenStack-Nova-API-Version": str(version),
            "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version"}
