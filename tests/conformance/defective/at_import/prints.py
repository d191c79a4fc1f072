"""A plugin module that announces itself."""

from __future__ import annotations

from .._http import EchoHTTPProvider

__all__ = ["PrintsAtImport"]

print("echo plugin 1.0 loaded")  # the defect under test


class PrintsAtImport(EchoHTTPProvider):
    """Prints a banner at import: into every CLI's and every server's output."""
