"""byom-sagemaker: Amazon SageMaker real-time endpoints behind the byom-sdk contract.

::

    client = byom_sdk.Client(models={"bot": {
        "provider": "sagemaker", "endpoint_name": "llama-3-8b", "region": "eu-west-1",
        "codec": "tgi", "inference_component": "llama-3-8b-ic"}})

Offline tests run against :class:`byom_sagemaker.testing.LocalSageMakerServer`.
Attributes resolve lazily so importing the package does not import boto3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._codec import Codec, Decoded, parse_vectors
    from ._codecs import JumpStartCodec, LMICodec, OpenAICodec, TEICodec, TGICodec
    from ._config import CredentialsConfig, SageMakerConfig
    from ._provider import SageMakerModel
    from ._stream import DONE, Chunk, LineDecoder, StreamAssembler, decode_stream

__all__ = [
    "DONE",
    "Chunk",
    "Codec",
    "CredentialsConfig",
    "Decoded",
    "JumpStartCodec",
    "LMICodec",
    "LineDecoder",
    "OpenAICodec",
    "SageMakerConfig",
    "SageMakerModel",
    "StreamAssembler",
    "TEICodec",
    "TGICodec",
    "decode_stream",
    "parse_vectors",
]

_LAZY = {
    "DONE": "._stream",
    "Chunk": "._stream",
    "Codec": "._codec",
    "CredentialsConfig": "._config",
    "Decoded": "._codec",
    "JumpStartCodec": "._codecs",
    "LMICodec": "._codecs",
    "LineDecoder": "._stream",
    "OpenAICodec": "._codecs",
    "SageMakerConfig": "._config",
    "SageMakerModel": "._provider",
    "StreamAssembler": "._stream",
    "TEICodec": "._codecs",
    "TGICodec": "._codecs",
    "decode_stream": "._stream",
    "parse_vectors": "._codec",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'byom_sagemaker' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
