"""A plugin module that warms a cache when imported."""

from __future__ import annotations

import time

from .._http import EchoHTTPProvider

__all__ = ["SlowAtImport"]

time.sleep(2.2)  # stands for loading a vocabulary or a model file at import


class SlowAtImport(EchoHTTPProvider):
    """Spends 2.2 s at import: every application with the plugin installed starts that much later."""
