"""Presidio-backed PII detector for the byom-sdk trust layer (offline)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._detector import DEFAULT_ENTITIES, PresidioDetector, build_analyzer

__all__ = ["DEFAULT_ENTITIES", "PresidioDetector", "build_analyzer"]


def __getattr__(name: str) -> Any:
    # Presidio and spaCy take about a second to import: only on first use.
    if name in __all__:
        from . import _detector

        return getattr(_detector, name)
    raise AttributeError(f"module 'byom_presidio' has no attribute {name!r}")
