"""``VertexModel``: a Vertex AI endpoint behind the byom contract.

Sync calls use ``PredictionServiceClient``; async calls use
``PredictionServiceAsyncClient`` over gRPC asyncio, one per event loop (a grpc.aio channel
belongs to the loop it was made on). The REST transport has no async GAPIC client without
aiohttp, so async REST calls run the sync client in a worker thread.

GAPIC's own retry is disabled on every call (``retry=None``): retries happen once, in the
core ``RetryPolicy``, from the ``retryable`` flags the error mapping sets.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from byom_sdk import (
    ByomError,
    Capabilities,
    ConfigError,
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    Model,
    ModelError,
    ModelInfo,
    ProviderError,
    StreamEvent,
    Usage,
    UsageEvent,
)

from ._boundary import base_boundary, read_endpoint, verified_boundary
from ._codecs import Codec, Generated, StreamParser, load_codec
from ._config import VertexConfig
from ._errors import error_from_body, find_error_body, map_exception
from ._lines import DONE, LineDecoder, StreamDecodeError

__all__ = ["VertexModel"]

_RPC_NAMES = {
    "predict": "predict",
    "raw_predict": "rawPredict",
    "stream_raw_predict": "streamRawPredict",
    "server_streaming_predict": "serverStreamingPredict",
}


class VertexModel(Model):
    """A model served by a Vertex AI endpoint.

    :param config: the validated :class:`VertexConfig`.
    :param codec: a codec instance overriding ``config.codec``.
    :param channel: a ready gRPC channel for the sync client (tests, custom TLS setups).
    :param async_channel_factory: makes a ``grpc.aio`` channel for the async client; called
        once per event loop.
    :param credentials: a google.auth credentials object overriding ``config.credentials``.
    """

    def __init__(
        self,
        config: VertexConfig,
        *,
        codec: Codec | None = None,
        channel: Any = None,
        async_channel_factory: Callable[[], Any] | None = None,
        credentials: Any = None,
    ) -> None:
        self.config = config
        try:
            self.codec = codec or load_codec(config.codec, config.codec_options)
        except ConfigError as exc:
            raise ConfigError(exc.message, field=exc.field) from exc.__cause__
        self._channel = channel
        self._async_channel_factory = async_channel_factory
        self._credentials = credentials
        self._lock = threading.Lock()
        self._client: Any = None
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._wire: Any = None
        self._http: Any = None
        self._raw_http = config.transport == "rest" and config.rest_raw == "http"
        self.endpoint = config.resource
        boundary = base_boundary(config)
        if config.verify_boundary:
            boundary = self._verify()
        codec_ = self.codec
        self._info = ModelInfo(
            id=config.model_id or f"vertex/{config.endpoint_id}",
            provider="vertex",
            capabilities=Capabilities(
                generate=codec_.generate_rpc is not None and codec_.prompt,
                chat=codec_.generate_rpc is not None and codec_.chat,
                stream=codec_.stream_rpc is not None,
                embed=codec_.embed_rpc is not None,
                tools=codec_.tools,
                async_native=config.transport == "grpc",
                seed=codec_.seed,
                max_context=config.max_context,
            ),
            boundary=boundary,
            embedding_dimension=config.embedding_dimension,
            description=f"Vertex AI endpoint {config.resource} ({codec_.name} codec, {config.transport})",
        )

    @classmethod
    def from_config(cls, config: VertexConfig) -> VertexModel:
        """The provider factory registered for ``provider = "vertex"``."""
        return cls(config)

    @property
    def info(self) -> ModelInfo:
        return self._info

    # -- clients --------------------------------------------------------------------------

    def _w(self) -> Any:
        wire = self._wire
        if wire is None:
            from . import _wire as wire

            self._wire = wire
        return wire

    def _creds(self) -> Any:
        if self._credentials is None:
            self._credentials = self._w().credentials_for(self.config)
        return self._credentials

    def _needs_credentials(self) -> bool:
        return not (self.config.insecure and self.config.transport == "grpc") and self._channel is None

    def _refuse_closed(self) -> None:
        if self._closed:
            raise ByomError(f"vertex model for endpoint {self.endpoint} is closed")

    def _sync(self) -> Any:
        client = self._client
        if client is None:
            self._refuse_closed()
            with self._lock:
                if self._client is None:
                    creds = self._creds() if self._needs_credentials() else None
                    self._client = self._w().sync_client(self.config, creds, self._channel)
                client = self._client
        return client

    def _async(self) -> Any:
        self._refuse_closed()
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            channel = self._async_channel_factory() if self._async_channel_factory else None
            creds = self._creds() if channel is None and not self.config.insecure else None
            client = self._w().async_client(self.config, creds, channel)
            self._aclients[loop] = client
        return client

    def _verify(self) -> Any:
        creds = self._creds() if self._needs_credentials() else None
        try:
            endpoint = read_endpoint(self.config, creds, self._channel)
        except ProviderError:
            raise
        except Exception as exc:
            raise map_exception(exc, endpoint=self.endpoint, operation="GetEndpoint (verify_boundary)") from exc
        return verified_boundary(self.config, endpoint)

    def _timeout(self, request: GenerateRequest | EmbedRequest) -> float:
        if request.timeout is None:
            return self.config.timeout
        return min(request.timeout, self.config.timeout)

    def _mapped(self, exc: BaseException, rpc: str) -> ByomError:
        if isinstance(exc, StreamDecodeError):
            return ModelError(
                f"vertex endpoint {self.endpoint}: {rpc} sent an unreadable stream: {exc}",
                provider="vertex",
                code="StreamDecodeError",
            )
        if isinstance(exc, ByomError):
            return exc
        return map_exception(exc, endpoint=self.endpoint, operation=rpc)

    def _checked(self, body: Any, rpc: str) -> Any:
        error = find_error_body(body)
        if error is not None:
            raise error_from_body(error, endpoint=self.endpoint, operation=rpc)
        if isinstance(body, dict) and "predictions" in body:
            predictions = body["predictions"]
            for item in predictions if isinstance(predictions, list) else [predictions]:
                error = find_error_body(item)
                if error is not None:
                    raise error_from_body(error, endpoint=self.endpoint, operation=rpc)
        return body

    def _tag(self, error: ProviderError) -> ProviderError:
        if "vertex endpoint" not in error.message:
            error.message = f"vertex endpoint {self.endpoint}: {error.message}"
            error.args = (error.message,)
        return error

    # -- request/response shaping -----------------------------------------------------------

    def _rpc_request(self, rpc: str, body: dict[str, Any]) -> Any:
        wire = self._w()
        if rpc == "predict":
            return wire.predict_request(self.endpoint, body)
        if rpc == "raw_predict":
            return wire.raw_request(self.endpoint, body, self.codec.content_type)
        if rpc == "stream_raw_predict":
            return wire.stream_raw_request(self.endpoint, body, self.codec.content_type)
        return wire.streaming_request(self.endpoint, body)

    def _decode_unary(self, rpc: str, response: Any) -> Any:
        if rpc == "predict":
            return self._checked(self._w().predictions(response), rpc)
        data = response.data
        try:
            body = json.loads(data) if data else None
        except ValueError:
            raise ModelError(
                f"vertex endpoint {self.endpoint}: rawPredict answered with non-JSON "
                f"{response.content_type or 'body'}: {data[:200]!r}",
                provider="vertex",
            ) from None
        if body is None:
            raise ModelError(
                f"vertex endpoint {self.endpoint}: rawPredict answered with an empty body "
                "(over REST, check that the endpoint speaks the wrapped HttpBody JSON form)",
                provider="vertex",
            )
        return self._checked(body, "rawPredict")

    def _response(self, generated: Generated, request: GenerateRequest, started: float, raw: Any) -> GenerateResponse:
        usage = generated.usage
        if usage is None:
            usage = Usage.estimate(_prompt_text(request), generated.text)
        return GenerateResponse(
            text=generated.text,
            finish_reason=generated.finish_reason,
            usage=usage,
            model=self._info.id,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            tool_calls=generated.tool_calls,
            raw=raw,
        )

    def _decode_generate(self, rpc: str, response: Any, request: GenerateRequest, started: float) -> GenerateResponse:
        body = self._decode_unary(rpc, response)
        try:
            generated = self.codec.decode_generate(body, request)
        except ProviderError as exc:
            raise self._tag(exc) from None
        return self._response(generated, request, started, body)

    def _decode_embed(self, rpc: str, response: Any, request: EmbedRequest, started: float) -> EmbedResponse:
        body = self._decode_unary(rpc, response)
        try:
            embedded = self.codec.decode_embed(body, request)
        except ProviderError as exc:
            raise self._tag(exc) from None
        if len(embedded.vectors) != len(request.texts):
            raise ModelError(
                f"vertex endpoint {self.endpoint}: {len(request.texts)} texts sent, "
                f"{len(embedded.vectors)} vectors returned",
                provider="vertex",
            )
        return EmbedResponse(
            vectors=tuple(tuple(v) for v in embedded.vectors),
            model=self._info.id,
            normalized=bool(request.normalize),
            usage=embedded.usage,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            raw=body,
        )

    def _events(self, parser: StreamParser, item: Any, rpc: str) -> list[Any]:
        error = find_error_body(item)
        if error is not None:
            raise error_from_body(error, endpoint=self.endpoint, operation=rpc)
        try:
            return parser.feed(item)
        except ProviderError as exc:
            raise self._tag(exc) from None

    def _finish(self, parser: StreamParser, request: GenerateRequest) -> list[StreamEvent]:
        events: list[StreamEvent] = list(parser.end())
        usage = parser.usage
        if usage is None:
            usage = Usage.estimate(_prompt_text(request), "".join(parser.text_parts))
        events.append(UsageEvent(usage=usage))
        reason = parser.finish_reason or ("tool_calls" if events[:-1] else "stop")
        events.append(FinishEvent(finish_reason=reason, usage=usage))
        return events

    def _require(self, rpc: str | None, operation: str) -> str:
        if rpc is None:  # the capability check makes this unreachable through the public API
            raise ModelError(f"codec '{self.codec.name}' cannot {operation}", provider="vertex")
        return rpc

    # -- sync -----------------------------------------------------------------------------

    def _sync_call(self, rpc: str, body: dict[str, Any], timeout: float) -> Any:
        """One RPC through the sync GAPIC client, or raw REST calls through RawHttp."""
        if self._raw_http and rpc in ("raw_predict", "stream_raw_predict"):
            http = self._http_client()
            data = json.dumps(body).encode()
            if rpc == "raw_predict":
                return _Chunk(http.raw_predict(data, self.codec.content_type, timeout))
            return _chunks(http.stream_raw_predict(data, self.codec.content_type, timeout))
        return getattr(self._sync(), rpc)(request=self._rpc_request(rpc, body), timeout=timeout, retry=None)

    async def _async_call(self, rpc: str, body: dict[str, Any], timeout: float) -> Any:
        """One unary RPC through the async GAPIC client (gRPC)."""
        return await getattr(self._async(), rpc)(request=self._rpc_request(rpc, body), timeout=timeout, retry=None)

    def _http_client(self) -> Any:
        http = self._http
        if http is None:
            with self._lock:
                self._refuse_closed()
                if self._http is None:
                    from ._http import RawHttp

                    self._http = RawHttp(self.config, self._creds())
                http = self._http
        return http

    def _generate(self, request: GenerateRequest) -> GenerateResponse:
        rpc = self._require(self.codec.generate_rpc, "generate")
        started = time.perf_counter()
        try:
            response = self._sync_call(rpc, self.codec.encode_generate(request), self._timeout(request))
        except ByomError:
            raise
        except Exception as exc:
            raise self._mapped(exc, _RPC_NAMES[rpc]) from exc
        return self._decode_generate(rpc, response, request, started)

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        rpc = self._require(self.codec.embed_rpc, "embed")
        started = time.perf_counter()
        try:
            response = self._sync_call(rpc, self.codec.encode_embed(request), self._timeout(request))
        except ByomError:
            raise
        except Exception as exc:
            raise self._mapped(exc, _RPC_NAMES[rpc]) from exc
        return self._decode_embed(rpc, response, request, started)

    def _stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        rpc = self._require(self.codec.stream_rpc, "stream")
        name = _RPC_NAMES[rpc]
        parser = self.codec.stream_parser(request)
        raw = rpc == "stream_raw_predict"
        decoder = LineDecoder()
        responses: Any = None
        try:
            responses = self._sync_call(rpc, self.codec.encode_stream(request), self._timeout(request))
            done = False
            for response in responses:
                items = decoder.feed(response.data) if raw else [self._w().streaming_outputs(response)]
                for item in items:
                    if item is DONE:
                        done = True
                        continue
                    yield from self._events(parser, item, name)
                if done:
                    break
            for item in decoder.close():
                if item is not DONE:
                    yield from self._events(parser, item, name)
        except GeneratorExit:
            _cancel(responses)
            raise
        except ByomError:
            _cancel(responses)
            raise
        except Exception as exc:
            _cancel(responses)
            raise self._mapped(exc, name) from exc
        _cancel(responses)  # we may have stopped at [DONE] before the server closed
        yield from self._finish(parser, request)

    # -- async ----------------------------------------------------------------------------

    async def _agenerate(self, request: GenerateRequest) -> GenerateResponse:
        if self.config.transport == "rest":
            return await asyncio.to_thread(self._generate, request)
        rpc = self._require(self.codec.generate_rpc, "generate")
        started = time.perf_counter()
        try:
            response = await self._async_call(rpc, self.codec.encode_generate(request), self._timeout(request))
        except ByomError:
            raise
        except Exception as exc:
            raise self._mapped(exc, _RPC_NAMES[rpc]) from exc
        return self._decode_generate(rpc, response, request, started)

    async def _aembed(self, request: EmbedRequest) -> EmbedResponse:
        if self.config.transport == "rest":
            return await asyncio.to_thread(self._embed, request)
        rpc = self._require(self.codec.embed_rpc, "embed")
        started = time.perf_counter()
        try:
            response = await self._async_call(rpc, self.codec.encode_embed(request), self._timeout(request))
        except ByomError:
            raise
        except Exception as exc:
            raise self._mapped(exc, _RPC_NAMES[rpc]) from exc
        return self._decode_embed(rpc, response, request, started)

    async def _astream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:
        if self.config.transport == "rest":
            async for event in _in_thread(lambda: self._stream(request)):
                yield event
            return
        rpc = self._require(self.codec.stream_rpc, "stream")
        name = _RPC_NAMES[rpc]
        parser = self.codec.stream_parser(request)
        raw = rpc == "stream_raw_predict"
        decoder = LineDecoder()
        responses: Any = None
        try:
            call = getattr(self._async(), rpc)
            responses = await call(
                request=self._rpc_request(rpc, self.codec.encode_stream(request)),
                timeout=self._timeout(request),
                retry=None,
            )
            done = False
            async for response in responses:
                items = decoder.feed(response.data) if raw else [self._w().streaming_outputs(response)]
                for item in items:
                    if item is DONE:
                        done = True
                        continue
                    for event in self._events(parser, item, name):
                        yield event
                if done:
                    break
            for item in decoder.close():
                if item is not DONE:
                    for event in self._events(parser, item, name):
                        yield event
        except GeneratorExit:
            _cancel(responses)
            raise
        except ByomError:
            _cancel(responses)
            raise
        except Exception as exc:
            _cancel(responses)
            raise self._mapped(exc, name) from exc
        else:
            _cancel(responses)  # we may have stopped at [DONE] before the server closed
        for event in self._finish(parser, request):
            yield event

    # -- lifecycle --------------------------------------------------------------------------

    def _close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            http.close()
        client, self._client = self._client, None
        if client is not None and self._channel is None:
            client.transport.close()
        self._aclients = weakref.WeakKeyDictionary()

    async def aclose(self) -> None:
        """Close this loop's async channel properly, then the sync client."""
        try:
            loop = asyncio.get_running_loop()
            client = self._aclients.pop(loop, None)
            if client is not None and self._async_channel_factory is None:
                await client.transport.close()
        finally:
            self.close()

    def __repr__(self) -> str:
        return f"<VertexModel {self.endpoint} codec={self.codec.name} transport={self.config.transport}>"


def _prompt_text(request: GenerateRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    return " ".join(m.content for m in request.as_messages())


class _Chunk:
    """A raw REST body shaped like the HttpBody the GAPIC client returns."""

    __slots__ = ("content_type", "data")

    def __init__(self, data: bytes, content_type: str = "") -> None:
        self.data = data
        self.content_type = content_type


def _chunks(source: Iterator[bytes]) -> Iterator[_Chunk]:
    try:
        for data in source:
            yield _Chunk(data)
    finally:
        source.close()  # type: ignore[attr-defined]


def _cancel(responses: Any) -> None:
    cancel = getattr(responses, "cancel", None) or getattr(responses, "close", None)
    if cancel is not None:
        try:
            cancel()
        except Exception:  # noqa: BLE001 - cancelling a finished call may raise; nothing to do.
            pass


async def _in_thread(factory: Callable[[], Iterator[StreamEvent]]) -> AsyncIterator[StreamEvent]:
    """Drive a blocking stream from a worker thread, one item per hop."""
    iterator = await asyncio.to_thread(factory)
    end = object()
    try:
        while True:
            item = await asyncio.to_thread(next, iterator, end)
            if item is end:
                return
            yield item  # type: ignore[misc]
    finally:
        await asyncio.to_thread(iterator.close)  # type: ignore[attr-defined]
