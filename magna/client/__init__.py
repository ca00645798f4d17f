"""Magna's Python SDK: ``Client()`` talks to a Magna (or Magnum) API over HTTP.

Layers: ``api.Api`` maps endpoints one to one; ``models`` wraps them in resources and managers;
``errors.ClientError`` is the one exception family. ``waiting`` follows a cluster operation to
its end and ``tlsconfig`` builds the files a native client needs. The SDK imports nothing of the
server (an import-linter contract says so), so it works on any machine with httpx.
"""

from magna.client.config import ClientConfig
from magna.client.errors import ClientError
from magna.client.models import Client

__all__ = ["Client", "ClientConfig", "ClientError"]
