"""A plugin module that is light to import but whose discovery hook loads the SDK."""

from __future__ import annotations

from byom_sdk import hookimpl


@hookimpl
def byom_model_providers() -> list[object]:
    import botocore.session  # noqa: F401  (the defect: byom calls this hook for every application)

    return []
