"""Entry point ``openai-compat`` (group ``byom``). Imports neither httpx nor the model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import byom_sdk

from ._config import OpenAICompatConfig

if TYPE_CHECKING:
    from ._model import OpenAICompatModel


def _build(config: OpenAICompatConfig) -> OpenAICompatModel:
    from ._model import OpenAICompatModel

    return OpenAICompatModel(config)


@byom_sdk.hookimpl
def byom_model_providers() -> list[byom_sdk.ModelProviderSpec]:
    return [
        byom_sdk.ModelProviderSpec(
            name="openai-compat",
            factory=_build,
            config_schema=OpenAICompatConfig,
            description="OpenAI-compatible HTTP servers (vLLM, TGI, Ollama, llama.cpp server)",
        )
    ]
