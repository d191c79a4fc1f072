"""Test helpers: :class:`LocalAzureMLServer`, an Azure ML online endpoint on 127.0.0.1."""

from __future__ import annotations

from ._server import FAULTS, LocalAzureMLServer, LoggedRequest

__all__ = ["FAULTS", "LocalAzureMLServer", "LoggedRequest"]
