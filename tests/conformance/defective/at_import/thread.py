"""A plugin module that starts its metrics flusher when imported."""

from __future__ import annotations

import threading

_STOP = threading.Event()
threading.Thread(target=_STOP.wait, name="echo-metrics-flusher", daemon=True).start()
