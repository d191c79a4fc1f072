"""A plugin module that announces itself."""

from __future__ import annotations

print("echo plugin 1.0 loaded")  # the defect under test
