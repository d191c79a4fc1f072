"""Entry point: registers the ``presidio`` detector (Presidio is imported on first use)."""

from __future__ import annotations

from typing import Any

from byom_sdk import DetectorSpec, hookimpl


def _factory() -> Any:
    from ._detector import PresidioDetector

    return PresidioDetector()


@hookimpl
def byom_detectors() -> list[DetectorSpec]:
    return [
        DetectorSpec(
            name="presidio",
            factory=_factory,
            kinds=("pii",),
            description="Presidio pattern/checksum recognizers, blank spaCy pipeline (offline)",
        )
    ]
