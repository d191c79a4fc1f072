"""A plugin module that checks its endpoint is reachable when imported."""

from __future__ import annotations

import socket

try:
    socket.create_connection(("localhost", 9), timeout=0.2).close()
except OSError:
    pass
