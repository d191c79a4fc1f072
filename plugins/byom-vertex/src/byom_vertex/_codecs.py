"""Codecs by config name: the shared wire layer's Vertex instances/predictions family.

``codec = "vllm" | "tgi" | "openai" | "tei" | "google-embeddings"`` selects a codec from
:mod:`byom_sdk.wire.vertex` (TGI and OpenAI bodies inside are the same implementation
SageMaker and the HTTP providers use). ``codec = "custom"`` loads a
:class:`byom_sdk.wire.vertex.VertexCodec` subclass named by ``codec_options.class``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from byom_sdk import ConfigError
from byom_sdk.wire import Decoded, Embedded
from byom_sdk.wire.vertex import (
    VERTEX_CODECS,
    VertexCodec,
    VertexGoogleEmbeddings,
    VertexOpenAI,
    VertexTEI,
    VertexTGI,
    VertexVLLM,
)

__all__ = [
    "BUILTIN_CODECS",
    "Codec",
    "Decoded",
    "Embedded",
    "Generated",
    "GoogleEmbeddingsCodec",
    "OpenAIChatCodec",
    "TEICodec",
    "TGICodec",
    "VLLMCodec",
    "load_codec",
]

# The names this plugin exported before the wire layer, kept as aliases.
Codec = VertexCodec
Generated = Decoded
VLLMCodec = VertexVLLM
TGICodec = VertexTGI
OpenAIChatCodec = VertexOpenAI
TEICodec = VertexTEI
GoogleEmbeddingsCodec = VertexGoogleEmbeddings
BUILTIN_CODECS = VERTEX_CODECS


def load_codec(name: str, options: Mapping[str, Any]) -> VertexCodec:
    """Build the codec called ``name``; ``custom`` imports ``options["class"]``.

    :raises ConfigError: naming the field when the class cannot be loaded.
    """
    if name != "custom":
        return VERTEX_CODECS[name](options)
    options = dict(options)
    path = str(options.pop("class"))
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"'{path}' is not 'package.module:Class'", field="codec_options.class")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load codec '{path}': {exc}", field="codec_options.class") from exc
    if not (isinstance(target, type) and issubclass(target, VertexCodec)):
        raise ConfigError(f"'{path}' is not a byom_sdk.wire.vertex.VertexCodec subclass", field="codec_options.class")
    codec: VertexCodec = target(options)
    return codec
