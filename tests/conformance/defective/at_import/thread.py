"""A plugin module that starts its metrics flusher when imported."""

from __future__ import annotations

import threading

from .._http import EchoHTTPProvider

__all__ = ["ThreadAtImport"]

_STOP = threading.Event()
threading.Thread(target=_STOP.wait, name="echo-metrics-flusher", daemon=True).start()


class ThreadAtImport(EchoHTTPProvider):
    """Starts a background thread at import, in every application that has the plugin installed."""
