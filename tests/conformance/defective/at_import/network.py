"""A plugin module that checks its endpoint is reachable when imported."""

from __future__ import annotations

import socket

from .._http import EchoHTTPProvider

__all__ = ["NetworkAtImport"]

try:
    socket.create_connection(("localhost", 9), timeout=0.2).close()
except OSError:
    pass


class NetworkAtImport(EchoHTTPProvider):
    """Resolves a host and connects at import: before any trust policy was read."""
