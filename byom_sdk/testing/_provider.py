"""Registers the ``scripted`` provider so byom.toml can name the test double."""

from __future__ import annotations

from .._hookspecs import hookimpl
from .._specs import ModelProviderSpec
from ._scripted import ScriptedModel, ScriptedModelConfig


@hookimpl
def byom_model_providers() -> list[ModelProviderSpec]:
    return [
        ModelProviderSpec(
            name="scripted",
            factory=ScriptedModel.from_config,
            config_schema=ScriptedModelConfig,
            description="deterministic test double for app unit tests (not a model)",
        )
    ]
