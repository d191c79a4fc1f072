"""One wire layer: each protocol family implemented once, shared by every provider.

- :mod:`byom_sdk.wire.openai` — OpenAI chat completions, completions, embeddings;
- :mod:`byom_sdk.wire.hf` — TGI, LMI (DJL), JumpStart, TEI;
- :mod:`byom_sdk.wire.vertex` — Vertex AI instances/predictions;
- shared: the line decoder for SSE / JSON Lines, stop-sequence trimming, the
  finish-reason table, sampling parameters, usage and embedding readers, stream assembly;
- :class:`HttpTransport` and :class:`WireProvider`: a plain-HTTP provider is a config, its
  auth and a codec.

SageMaker, Vertex and HTTP providers are transport + framing over these codecs::

    from byom_sdk.wire import HttpTransport, WireProvider
    from byom_sdk.wire.openai import OpenAIChat

    provider = WireProvider(info, OpenAIChat(model="m"),
                            HttpTransport(url, {"generate": "/chat/completions"}, headers=...,
                                          timeout=60, connect_timeout=5, provider="mine"),
                            where=f"server {url}")

Nothing here is imported by ``import byom_sdk``; plugins import it.
"""

from __future__ import annotations

from ._assemble import StreamAssembler, StreamEnded, decode_stream
from ._bodies import error_from_body, find_error_body
from ._codec import (
    Chunk,
    Codec,
    ContainerError,
    Decoded,
    Embedded,
    ToolDelta,
    container_error,
    embedded,
    finish_reason,
    parse_vectors,
    prompt_text,
    read_usage,
    sampling,
    usage_from,
)
from ._http import HttpTransport, error_for_status, retry_after_seconds
from ._lines import DONE, LineDecoder, StreamDecodeError
from ._provider import AsyncTransport, Transport, WireProvider
from ._stop import StopTrimmer, trim_stop

__all__ = [
    "DONE",
    "AsyncTransport",
    "Chunk",
    "Codec",
    "ContainerError",
    "Decoded",
    "Embedded",
    "HttpTransport",
    "LineDecoder",
    "StopTrimmer",
    "StreamAssembler",
    "StreamDecodeError",
    "StreamEnded",
    "ToolDelta",
    "Transport",
    "WireProvider",
    "container_error",
    "decode_stream",
    "embedded",
    "error_for_status",
    "error_from_body",
    "find_error_body",
    "finish_reason",
    "parse_vectors",
    "prompt_text",
    "read_usage",
    "retry_after_seconds",
    "sampling",
    "trim_stop",
    "usage_from",
]
