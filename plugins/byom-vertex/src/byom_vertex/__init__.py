"""byom-vertex: Vertex AI endpoints behind the byom-sdk contract.

::

    import byom_sdk

    client = byom_sdk.Client(models={"bot": {
        "provider": "vertex", "project": "acme-ml", "location": "europe-west4",
        "endpoint_id": "1234567890", "codec": "vllm"}})
    client.model("bot").generate("Hello", max_tokens=64)

Offline tests use :mod:`byom_vertex.testing` (a local Vertex prediction server).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from byom_sdk.wire import LineDecoder

    from ._codecs import (
        Codec,
        Embedded,
        Generated,
        GoogleEmbeddingsCodec,
        OpenAIChatCodec,
        TEICodec,
        TGICodec,
        VLLMCodec,
    )
    from ._config import CredentialsConfig, VertexConfig
    from ._model import VertexModel

__all__ = [
    "Codec",
    "CredentialsConfig",
    "Embedded",
    "Generated",
    "GoogleEmbeddingsCodec",
    "LineDecoder",
    "OpenAIChatCodec",
    "TEICodec",
    "TGICodec",
    "VLLMCodec",
    "VertexConfig",
    "VertexModel",
]

_LAZY = {
    "Codec": "._codecs",
    "Embedded": "._codecs",
    "Generated": "._codecs",
    "GoogleEmbeddingsCodec": "._codecs",
    "OpenAIChatCodec": "._codecs",
    "TEICodec": "._codecs",
    "TGICodec": "._codecs",
    "VLLMCodec": "._codecs",
    "CredentialsConfig": "._config",
    "VertexConfig": "._config",
    "LineDecoder": "byom_sdk.wire",
    "VertexModel": "._model",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'byom_vertex' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
