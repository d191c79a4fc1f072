"""byom-sdk provider for OpenAI-compatible HTTP servers: vLLM, TGI, Ollama, llama.cpp server.

::

    [models.local-llama]
    provider = "openai-compat"
    base_url = "http://10.0.0.5:8000/v1"
    model = "meta-llama/Llama-3.1-8B-Instruct"
    region = "eu-west-1"

Only the public, documented wire format is used: ``POST /v1/chat/completions``,
``/v1/completions`` and ``/v1/embeddings``, SSE streaming terminated by ``data: [DONE]``,
and ``stream_options.include_usage`` for usage in streams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._config import OpenAICompatConfig

if TYPE_CHECKING:
    from ._model import OpenAICompatModel

__all__ = ["OpenAICompatConfig", "OpenAICompatModel"]


def __getattr__(name: str) -> Any:
    # The model module imports httpx; load it on first use, not when the plugin loads.
    if name == "OpenAICompatModel":
        from ._model import OpenAICompatModel

        return OpenAICompatModel
    raise AttributeError(name)
