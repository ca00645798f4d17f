"""Where the SDK finds the server and the credentials: arguments first, then the environment.

``MAGNA_URL`` (default ``http://127.0.0.1:9511``, the address ``magna serve`` listens on),
``MAGNA_TOKEN`` or ``OS_AUTH_TOKEN`` for a token, and ``MAGNA_API_VERSION`` for the microversion
(default: the newest Magna speaks). With no token and ``OS_AUTH_URL`` set, a token is requested
from Keystone with ``OS_USERNAME``/``OS_PASSWORD``/``OS_PROJECT_NAME`` (see ``keystone.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_URL = "http://127.0.0.1:9511"
API_VERSION = "1.14"


@dataclass(frozen=True)
class ClientConfig:
    url: str = DEFAULT_URL
    token: str | None = None
    api_version: str = API_VERSION
    timeout: float = 30.0
    keystone: Mapping[str, str] = field(default_factory=dict)
    url_given: bool = True  # False: the default, so Keystone's catalog may name the endpoint

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: str | None
                 ) -> ClientConfig:
        source = os.environ if env is None else env
        values = {
            "url": source.get("MAGNA_URL") or DEFAULT_URL,
            "token": source.get("MAGNA_TOKEN") or source.get("OS_AUTH_TOKEN") or None,
            "api_version": source.get("MAGNA_API_VERSION") or API_VERSION,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        keystone = {k: v for k, v in source.items() if k.startswith("OS_")}
        return cls(url=_base(str(values["url"])), token=values["token"],
                   api_version=str(values["api_version"]), keystone=keystone,
                   url_given=bool(source.get("MAGNA_URL") or overrides.get("url")))


def _base(url: str) -> str:
    """Accept the server's root or its ``/v1`` endpoint (what ``OS_ENDPOINT`` holds)."""
    url = url.rstrip("/")
    return url[:-3] if url.endswith("/v1") else url
