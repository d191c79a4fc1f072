"""The codecs a config can name: a built-in wire protocol, or a user class.

``codec = "tgi" | "lmi" | "openai" | "jumpstart" | "tei"`` selects a protocol from
:mod:`byom_sdk.wire` (the same implementation the Vertex and HTTP providers use), built
with the model's ``codec_options``; the old class names stay as aliases. A codec knows one
container's JSON format (see :class:`byom_sdk.wire.Codec`); write your own by subclassing
it and naming it in config::

    [models.scorer]
    provider = "sagemaker"
    codec = "custom"
    codec_class = "my_pkg.codecs:ScorerCodec"
    codec_options = { temperature_floor = 0.01 }   # passed to ScorerCodec(**codec_options)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from byom_sdk import ConfigError
from byom_sdk.wire import Codec, Decoded, parse_vectors, prompt_text
from byom_sdk.wire.hf import LMI, TEI, TGI, JumpStart
from byom_sdk.wire.openai import OpenAIChat

if TYPE_CHECKING:
    from ._config import SageMakerConfig

__all__ = [
    "BUILTIN",
    "Codec",
    "Decoded",
    "JumpStartCodec",
    "LMICodec",
    "OpenAICodec",
    "TEICodec",
    "TGICodec",
    "load_codec",
    "parse_vectors",
    "prompt_text",
]

TGICodec = TGI
LMICodec = LMI
OpenAICodec = OpenAIChat
JumpStartCodec = JumpStart
TEICodec = TEI

BUILTIN: dict[str, type[Codec]] = {"tgi": TGI, "lmi": LMI, "openai": OpenAIChat, "jumpstart": JumpStart, "tei": TEI}


def load_codec(config: SageMakerConfig, *, source: str = "sagemaker") -> Codec:
    """Instantiate the codec a config names, reporting bad names and options as config errors."""
    if config.codec == "custom":
        assert config.codec_class is not None  # ensured by SageMakerConfig
        module_name, _, attr = config.codec_class.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"cannot import codec_class {config.codec_class!r}: {exc}", source=source, field="codec_class"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Codec)):
            raise ConfigError(
                f"codec_class {config.codec_class!r} is not a subclass of byom_sdk.wire.Codec",
                source=source,
                field="codec_class",
            )
    else:
        cls = BUILTIN[config.codec]
    try:
        return cls(**config.codec_options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"bad codec_options for codec '{cls.name}': {exc}", source=source, field="codec_options"
        ) from exc
