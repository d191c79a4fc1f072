"""The built-in codecs, by config name: the shared wire layer's protocols.

``codec = "tgi" | "lmi" | "openai" | "jumpstart" | "tei"`` selects a protocol from
:mod:`byom_sdk.wire` (the same implementation the Vertex and HTTP providers use), built
with the model's ``codec_options``. The old class names stay as aliases.
"""

from __future__ import annotations

from byom_sdk.wire import Codec
from byom_sdk.wire.hf import LMI, TEI, TGI, JumpStart
from byom_sdk.wire.openai import OpenAIChat

__all__ = ["BUILTIN", "JumpStartCodec", "LMICodec", "OpenAICodec", "TEICodec", "TGICodec"]

TGICodec = TGI
LMICodec = LMI
OpenAICodec = OpenAIChat
JumpStartCodec = JumpStart
TEICodec = TEI

BUILTIN: dict[str, type[Codec]] = {"tgi": TGI, "lmi": LMI, "openai": OpenAIChat, "jumpstart": JumpStart, "tei": TEI}
