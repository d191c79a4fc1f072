"""``WireProvider``: a provider made of a codec and a transport.

The codec knows the container's JSON; the transport moves it (boto3 and the AWS event
stream, GAPIC over gRPC or REST, httpx) and maps its library's failures onto the error
tree. Everything between — encoding, decoding, stop trimming, usage, tool calls, one
finish event, decode failures as ``ModelError``, a broken stream's partial text in the
error's details — is written here once. A new HTTP provider is its config, its auth and a
codec choice (contrib/byom-azureml is the worked example).
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from .._errors import BadRequest, ByomError, ModelError, ProviderError, Unavailable
from .._provider import Provider
from .._redact import redact
from .._types import (
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    ModelInfo,
    StreamEvent,
    Usage,
)
from ._assemble import StreamAssembler, StreamEnded
from ._bodies import error_from_body, find_error_body
from ._codec import Codec, ContainerError, Decoded, embedded, prompt_text
from ._lines import StreamDecodeError
from ._stop import trim_stop

__all__ = ["AsyncTransport", "Transport", "WireProvider"]

_DECODE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError)


@runtime_checkable
class Transport(Protocol):
    """Moves codec bodies and maps its library's failures onto byom errors.

    ``call`` returns the decoded JSON answer of ``operation`` (``generate`` / ``embed``);
    ``stream`` yields the answer's bytes (or, when ``streams_records``, decoded records)
    and stops the stream when closed. Both get the request for its ``timeout`` (the time
    left for the call) and its ``metadata`` (a request id to forward, say).
    """

    streams_records: bool

    def call(self, operation: str, body: Any, request: GenerateRequest | EmbedRequest) -> Any: ...

    def stream(self, body: Any, request: GenerateRequest) -> Iterator[Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncTransport(Transport, Protocol):
    """A transport with a native async side."""

    async def acall(self, operation: str, body: Any, request: GenerateRequest | EmbedRequest) -> Any: ...

    def astream(self, body: Any, request: GenerateRequest) -> AsyncIterator[Any]: ...

    async def aclose(self) -> None: ...


class WireProvider(Provider):
    """A provider serving ``info`` through ``codec`` over ``transport``.

    :param where: names the model in error messages (``"SageMaker endpoint 'x' (eu-west-1)"``).
    :param embed_codec: the codec of embeddings when it differs from the generation one
        (OpenAI servers: ``/embeddings`` next to ``/chat/completions``).
    :param require_end: a stream that ends without a finish reason or ``[DONE]`` is an error
        (defaults to the codec's ``require_end``, true for OpenAI-style codecs).
    """

    def __init__(
        self,
        info: ModelInfo,
        codec: Codec,
        transport: Transport,
        *,
        where: str,
        embed_codec: Codec | None = None,
        require_end: bool | None = None,
    ) -> None:
        self._info = info
        self.codec = codec
        self.embed_codec = embed_codec or codec
        self.transport = transport
        self.where = where
        self.require_end = bool(getattr(codec, "require_end", False)) if require_end is None else require_end
        native = {"generate", "stream", "embed"}
        if isinstance(transport, AsyncTransport):
            native |= {"agenerate", "astream", "aembed"}
        self.native = frozenset(native)

    @property
    def info(self) -> ModelInfo:
        return self._info

    # -- shared steps ---------------------------------------------------------------------------

    def _encode(self, encode: Any, request: Any, **kwargs: Any) -> Any:
        try:
            return encode(request, **kwargs)
        except (ValueError, TypeError, KeyError) as exc:
            raise BadRequest(
                f"{self.where}: codec '{self.codec.name}' cannot encode the request: {exc}",
                provider=self._info.provider,
                code="EncodeError",
            ) from exc

    def _decode_failure(self, exc: Exception, what: str) -> ProviderError:
        if isinstance(exc, ContainerError):
            if isinstance(exc.body, Mapping) and find_error_body(exc.body) is not None:
                return error_from_body(exc.body, provider=self._info.provider, where=self.where)
            return ModelError(
                f"{self.where}: the container reported an error: {exc}",
                provider=self._info.provider,
                code="ContainerError",
            )
        return ModelError(
            f"{self.where}: codec '{self.codec.name}' cannot decode the {what}: {type(exc).__name__}: {exc}",
            provider=self._info.provider,
            code="DecodeError",
        )

    def _generated(self, answer: Any, request: GenerateRequest, started: float) -> GenerateResponse:
        try:
            decoded: Decoded = self.codec.decode_generate(answer)
        except (ContainerError, *_DECODE_ERRORS) as exc:
            raise self._decode_failure(exc, "response") from exc
        text, hit = trim_stop(decoded.text, request.stop) if request.stop else (decoded.text, False)
        reason = "stop" if hit else decoded.finish_reason or ("tool_calls" if decoded.tool_calls else "stop")
        return GenerateResponse(
            text=text,
            finish_reason=reason,
            usage=decoded.usage or Usage.estimate(prompt_text(request), text),
            model=self._info.id,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            tool_calls=decoded.tool_calls,
            raw=answer,
        )

    def _embedded(self, answer: Any, request: EmbedRequest, started: float) -> EmbedResponse:
        try:
            found = self.embed_codec.decode_embed(answer)
        except (ContainerError, *_DECODE_ERRORS) as exc:
            raise self._decode_failure(exc, "embeddings") from exc
        if len(found.vectors) != len(request.texts):
            raise ModelError(
                f"{self.where}: {len(found.vectors)} vectors for {len(request.texts)} texts",
                provider=self._info.provider,
                code="DecodeError",
            )
        self._check_vectors(found.vectors)
        vectors, normalized = embedded(found.vectors, request)
        return EmbedResponse(
            vectors=vectors,
            model=self._info.id,
            normalized=normalized,
            usage=found.usage,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            raw=answer,
        )

    def _check_vectors(self, vectors: Sequence[Sequence[float]]) -> None:
        """Vectors of the declared dimension (of one size when none is declared), every
        component a finite number: a vector store takes whatever it is given."""
        declared = self._info.embedding_dimension
        sizes = {len(v) for v in vectors}
        problem = None
        if declared is not None and sizes - {declared}:
            problem = f"vectors of {sorted(sizes)} dimensions, the model declares {declared} (embedding_dimension)"
        elif len(sizes) > 1:
            problem = f"vectors of different sizes {sorted(sizes)} in one answer"
        elif not all(math.isfinite(x) for v in vectors for x in v):
            problem = "a vector with a component that is not a finite number (NaN or infinity)"
        if problem is not None:
            raise ModelError(f"{self.where}: {problem}", provider=self._info.provider, code="DecodeError")

    def _assembler(self, request: GenerateRequest) -> StreamAssembler:
        return StreamAssembler(
            self.codec, prompt=prompt_text(request), stops=request.stop, require_end=self.require_end
        )

    def _feed(self, assembler: StreamAssembler, item: Any) -> list[StreamEvent]:
        if self.transport.streams_records:
            return assembler.feed_record(item)
        return assembler.feed(item)

    def _stream_failure(self, exc: Exception, assembler: StreamAssembler) -> ByomError:
        if isinstance(exc, ProviderError):
            error: ByomError = exc
        elif isinstance(exc, StreamEnded):
            error = Unavailable(
                f"{self.where}: {exc}", provider=self._info.provider, code="StreamEnded", request_sent=True
            )
        elif isinstance(exc, (ContainerError, StreamDecodeError, *_DECODE_ERRORS)):
            error = self._decode_failure(exc, "stream")
        else:
            return exc if isinstance(exc, ByomError) else self._decode_failure(exc, "stream")
        if isinstance(error, ProviderError) and assembler.text:
            error.details["partial_text"] = assembler.text
        return error

    # -- sync -----------------------------------------------------------------------------------

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        body = self._encode(self.codec.encode_generate, request, stream=False)
        answer = self.transport.call("generate", body, request)
        return self._generated(answer, request, started)

    def handle_stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        body = self._encode(self.codec.encode_generate, request, stream=True)
        assembler = self._assembler(request)
        parts = self.transport.stream(body, request)
        try:
            for part in parts:
                yield from self._feed(assembler, part)
            yield from assembler.finish()
        except Exception as exc:
            failure = self._stream_failure(exc, assembler)
            if failure is exc:
                raise
            raise failure from exc
        finally:
            close = getattr(parts, "close", None)
            if close is not None:
                close()

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        started = time.perf_counter()
        body = self._encode(self.embed_codec.encode_embed, request)
        answer = self.transport.call("embed", body, request)
        return self._embedded(answer, request, started)

    # -- async (used when the transport is an AsyncTransport) -----------------------------------

    def _async_transport(self) -> AsyncTransport:
        transport = self.transport
        assert isinstance(transport, AsyncTransport)  # native only then (see __init__)
        return transport

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        body = self._encode(self.codec.encode_generate, request, stream=False)
        answer = await self._async_transport().acall("generate", body, request)
        return self._generated(answer, request, started)

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:
        body = self._encode(self.codec.encode_generate, request, stream=True)
        assembler = self._assembler(request)
        parts = self._async_transport().astream(body, request)
        try:
            async for part in parts:
                for event in self._feed(assembler, part):
                    yield event
            for event in assembler.finish():
                yield event
        except Exception as exc:
            failure = self._stream_failure(exc, assembler)
            if failure is exc:
                raise
            raise failure from exc
        finally:
            aclose = getattr(parts, "aclose", None)
            if aclose is not None:
                await aclose()

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        started = time.perf_counter()
        body = self._encode(self.embed_codec.encode_embed, request)
        answer = await self._async_transport().acall("embed", body, request)
        return self._embedded(answer, request, started)

    def __repr__(self) -> str:
        return redact(f"<{type(self).__name__} {self.where} codec={self.codec.name!r}>")

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        if not self._closed:
            super().close()
            self.transport.close()

    async def aclose(self) -> None:
        if self._closed:
            return
        transport = self.transport
        if isinstance(transport, AsyncTransport):
            await transport.aclose()
        super().close()
        self.transport.close()
