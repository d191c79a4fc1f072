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
    from byom_sdk.wire import DONE, Chunk, Codec, Decoded, LineDecoder, StreamAssembler, decode_stream, parse_vectors

    from ._codecs import JumpStartCodec, LMICodec, OpenAICodec, TEICodec, TGICodec
    from ._config import CredentialsConfig, SageMakerConfig
    from ._model import SageMakerModel

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

# The codec and stream machinery is byom_sdk.wire's, shared with every provider; the
# names stay importable from here.
_LAZY = {
    "DONE": "byom_sdk.wire",
    "Chunk": "byom_sdk.wire",
    "Codec": "byom_sdk.wire",
    "CredentialsConfig": "._config",
    "Decoded": "byom_sdk.wire",
    "JumpStartCodec": "._codecs",
    "LMICodec": "._codecs",
    "LineDecoder": "byom_sdk.wire",
    "OpenAICodec": "._codecs",
    "SageMakerConfig": "._config",
    "SageMakerModel": "._model",
    "StreamAssembler": "byom_sdk.wire",
    "TEICodec": "._codecs",
    "TGICodec": "._codecs",
    "decode_stream": "byom_sdk.wire",
    "parse_vectors": "byom_sdk.wire",
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
