"""A plugin module that warms a cache when imported."""

from __future__ import annotations

import time

time.sleep(2.2)  # stands for loading a vocabulary or a model file at import
