"""``OpenAICompatModel``: native sync (``httpx.Client``) and async (``httpx.AsyncClient``)."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx

from byom_sdk import (
    Boundary,
    ByomError,
    Capabilities,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    Model,
    ModelError,
    ModelInfo,
    ProviderError,
    StreamEvent,
    Timeout,
    Unavailable,
    Usage,
)

from ._config import OpenAICompatConfig
from ._wire import (
    PROVIDER,
    StreamState,
    chat_body,
    completion_body,
    embed_body,
    error_for_status,
    finish_reason,
    iter_sse_data,
    tool_calls_from,
    usage_from,
)

__all__ = ["OpenAICompatModel"]


def _transport_error(exc: httpx.HTTPError, url: str) -> ProviderError:
    """Map httpx's transport exceptions; the caller raises it ``from exc``."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        return Unavailable(f"cannot connect to {url}: {exc}", provider=PROVIDER)
    if isinstance(exc, httpx.TimeoutException):
        # Read/write/pool timeouts: the server may still be generating; not retried.
        return Timeout(f"{type(exc).__name__} waiting for {url}: {exc}", provider=PROVIDER)
    return Unavailable(f"{type(exc).__name__} talking to {url}: {exc}", provider=PROVIDER)


class OpenAICompatModel(Model):
    """A model served by an OpenAI-compatible HTTP server.

    Sync calls share one ``httpx.Client`` (thread-safe, keep-alive). Async calls use a
    fresh ``httpx.AsyncClient`` per call: httpx's async pools are bound to the event loop
    that created them, and applications call from several loops (``asyncio.run`` per
    request, the SDK's bridge loop), so a shared async pool would break across loops.
    httpx's own retries stay off: the core's RetryPolicy is the only retry layer.

    :param config: the validated provider config.
    """

    def __init__(self, config: OpenAICompatConfig) -> None:
        self.config = config
        headers = {"Accept": "application/json", **config.headers}
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        self._headers = headers
        self._timeout = httpx.Timeout(config.timeout, connect=config.connect_timeout)
        self._client: httpx.Client | None = httpx.Client(headers=headers, timeout=self._timeout)
        self._lock = threading.Lock()
        caps = Capabilities(
            generate=config.generate and config.api == "completions",
            chat=config.generate and config.api == "chat",
            stream=config.generate and config.stream,
            embed=config.embedding_dimension is not None,
            tools=config.generate and config.tools and config.api == "chat",
            async_native=True,
            stop_sequences=True,
            seed=True,
            max_context=config.max_context,
        )
        self._info = ModelInfo(
            id=config.model,
            provider=PROVIDER,
            capabilities=caps,
            boundary=Boundary(
                provider=PROVIDER,
                location_kind=config.location_kind,
                region=config.region,
                network_path=config.network_path or ("loopback" if config.is_loopback else "network"),
                endpoint=config.base_url,
                tls=config.tls,
                retention=config.retention,
            ),
            embedding_dimension=config.embedding_dimension,
            embedding_normalized=config.embedding_normalized,
            description=f"OpenAI-compatible server at {config.base_url}",
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    # -- plumbing ---------------------------------------------------------------------------

    def _sync(self) -> httpx.Client:
        client = self._client
        if client is None:
            raise ByomError(f"model '{self._info.id}' ({PROVIDER}) is closed")
        return client

    def _check_open(self) -> None:
        if self._client is None:
            raise ByomError(f"model '{self._info.id}' ({PROVIDER}) is closed")

    def _timeout_for(self, request_timeout: float | None) -> httpx.Timeout:
        if request_timeout is None or request_timeout >= self.config.timeout:
            return self._timeout
        return httpx.Timeout(request_timeout, connect=min(self.config.connect_timeout, request_timeout))

    def _route(self, request: GenerateRequest, *, stream: bool) -> tuple[str, dict[str, Any]]:
        cfg = self.config
        use_usage = stream and cfg.stream_usage
        if request.messages is not None:
            return f"{cfg.base_url}/chat/completions", chat_body(
                request, cfg.model, stream=stream, stream_usage=use_usage
            )
        return f"{cfg.base_url}/completions", completion_body(request, cfg.model, stream=stream, stream_usage=use_usage)

    @staticmethod
    def _json(response: httpx.Response, url: str) -> dict[str, Any]:
        if response.status_code >= 400:
            raise error_for_status(response.status_code, response.content, response.headers.get("retry-after"))
        try:
            body = response.json()
        except ValueError as exc:
            raise ModelError(
                f"{url} returned a body that is not JSON: {response.text[:200]!r}", provider=PROVIDER
            ) from exc
        if not isinstance(body, dict):
            raise ModelError(f"{url} returned {type(body).__name__}, expected a JSON object", provider=PROVIDER)
        return body

    def _generate_response(self, body: dict[str, Any], request: GenerateRequest, started: float) -> GenerateResponse:
        choices = body.get("choices") or []
        if not choices:
            raise ModelError(f"server returned no choices: {json.dumps(body)[:200]}", provider=PROVIDER)
        choice = choices[0]
        if request.messages is not None:
            message = choice.get("message") or {}
            text = str(message.get("content") or "")
            tool_calls = tool_calls_from(message)
        else:
            text, tool_calls = str(choice.get("text") or ""), ()
        usage = usage_from(body) or Usage.estimate(
            request.prompt or "\n".join(m.content for m in request.as_messages()), text
        )
        return GenerateResponse(
            text=text,
            finish_reason=finish_reason(choice.get("finish_reason")),
            usage=usage,
            model=str(body.get("model") or self.config.model),
            latency_ms=(time.perf_counter() - started) * 1000.0,
            tool_calls=tool_calls,
            raw=body,
        )

    def _embed_response(self, body: dict[str, Any], request: EmbedRequest, started: float) -> EmbedResponse:
        data = sorted(body.get("data") or [], key=lambda item: int(item.get("index", 0)))
        if len(data) != len(request.texts):
            raise ModelError(
                f"server returned {len(data)} embeddings for {len(request.texts)} texts", provider=PROVIDER
            )
        vectors = [tuple(float(v) for v in item.get("embedding") or ()) for item in data]
        normalized = self.config.embedding_normalized
        if request.normalize and not normalized:
            vectors = [tuple(v / (math.sqrt(sum(x * x for x in vec)) or 1.0) for v in vec) for vec in vectors]
            normalized = True
        usage = usage_from(body)
        return EmbedResponse(
            vectors=tuple(vectors),
            model=str(body.get("model") or self.config.embedding_model or self.config.model),
            normalized=normalized,
            usage=usage,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            raw=body,
        )

    # -- sync -------------------------------------------------------------------------------

    def _generate(self, request: GenerateRequest) -> GenerateResponse:
        url, body = self._route(request, stream=False)
        started = time.perf_counter()
        try:
            response = self._sync().post(url, json=body, timeout=self._timeout_for(request.timeout))
        except httpx.HTTPError as exc:
            raise _transport_error(exc, url) from exc
        return self._generate_response(self._json(response, url), request, started)

    @contextmanager
    def _open_stream(self, url: str, body: dict[str, Any], timeout: float | None) -> Iterator[httpx.Response]:
        try:
            with self._sync().stream("POST", url, json=body, timeout=self._timeout_for(timeout)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_for_status(response.status_code, response.content, response.headers.get("retry-after"))
                yield response
        except httpx.HTTPError as exc:
            raise _transport_error(exc, url) from exc

    def _stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        url, body = self._route(request, stream=True)
        state = StreamState(chat=request.messages is not None)
        with self._open_stream(url, body, request.timeout) as response:
            for data in iter_sse_data(response.iter_lines()):
                yield from state.feed(data)
        yield from state.close()

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        cfg = self.config
        url = f"{cfg.base_url}/embeddings"
        started = time.perf_counter()
        try:
            response = self._sync().post(
                url,
                json=embed_body(request, cfg.embedding_model or cfg.model),
                timeout=self._timeout_for(request.timeout),
            )
        except httpx.HTTPError as exc:
            raise _transport_error(exc, url) from exc
        return self._embed_response(self._json(response, url), request, started)

    # -- async ------------------------------------------------------------------------------

    @asynccontextmanager
    async def _aclient(self) -> AsyncIterator[httpx.AsyncClient]:
        self._check_open()
        async with httpx.AsyncClient(headers=self._headers, timeout=self._timeout) as client:
            yield client

    async def _agenerate(self, request: GenerateRequest) -> GenerateResponse:
        url, body = self._route(request, stream=False)
        started = time.perf_counter()
        try:
            async with self._aclient() as client:
                response = await client.post(url, json=body, timeout=self._timeout_for(request.timeout))
        except httpx.HTTPError as exc:
            raise _transport_error(exc, url) from exc
        return self._generate_response(self._json(response, url), request, started)

    async def _astream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:
        url, body = self._route(request, stream=True)
        state = StreamState(chat=request.messages is not None)
        try:
            async with (
                self._aclient() as client,
                client.stream("POST", url, json=body, timeout=self._timeout_for(request.timeout)) as response,
            ):
                if response.status_code >= 400:
                    await response.aread()
                    raise error_for_status(response.status_code, response.content, response.headers.get("retry-after"))
                lines: list[str] = []
                async for line in response.aiter_lines():
                    lines.append(line)
                    if line:
                        continue
                    for data in iter_sse_data(iter(lines)):
                        for event in state.feed(data):
                            yield event
                    lines.clear()
                for data in iter_sse_data(iter(lines)):
                    for event in state.feed(data):
                        yield event
        except httpx.HTTPError as exc:
            raise _transport_error(exc, url) from exc
        for event in state.close():
            yield event

    async def _aembed(self, request: EmbedRequest) -> EmbedResponse:
        cfg = self.config
        url = f"{cfg.base_url}/embeddings"
        started = time.perf_counter()
        try:
            async with self._aclient() as client:
                response = await client.post(
                    url,
                    json=embed_body(request, cfg.embedding_model or cfg.model),
                    timeout=self._timeout_for(request.timeout),
                )
        except httpx.HTTPError as exc:
            raise _transport_error(exc, url) from exc
        return self._embed_response(self._json(response, url), request, started)

    # -- lifecycle --------------------------------------------------------------------------

    def _close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
