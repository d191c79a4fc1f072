"""A correct plugin-API-2 provider over httpx, speaking the echo API of :mod:`._server`.

Sync (one ``httpx.Client``) and native async (an ``httpx.AsyncClient`` per call, since
async clients are bound to their event loop, sharing one TLS context), streams as NDJSON lines, embeddings, tools,
``request.timeout`` per call, every httpx error mapped. The defective plugins subclass it
and break one thing each.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from byom_sdk import (
    AuthError,
    BadRequest,
    Boundary,
    Capabilities,
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    ModelError,
    ModelInfo,
    Provider,
    ProviderError,
    TextDelta,
    Throttled,
    Timeout,
    ToolCall,
    ToolCallEvent,
    Unavailable,
    Usage,
    UsageEvent,
)
from byom_sdk.testing import WhitespaceTokenizer

NAME = "echo-http"
# Built once: httpx.AsyncClient() otherwise loads the CA bundle on every construction,
# 20-70 ms of CPU on the event loop per call (async.event_loop catches exactly that).
_TLS = ssl.create_default_context()
CONNECT_TIMEOUT = 5.0


def retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_for(response: httpx.Response) -> ProviderError:
    """The core error for an HTTP error answer of the echo API."""
    status = response.status_code
    try:
        error = response.json()["error"]
        message, code = f"{NAME}: {error['message']}", error["code"]
    except (ValueError, KeyError, TypeError):
        message, code = f"{NAME}: HTTP {status}", None
    kwargs: dict[str, Any] = {"provider": NAME, "status_code": status, "code": code}
    if status == 429:
        return Throttled(message, retry_after=retry_after(response.headers.get("Retry-After")), **kwargs)
    if status in (401, 403):
        return AuthError(message, **kwargs)
    if status == 424:
        return ModelError(message, **kwargs)
    if 400 <= status < 500:
        return BadRequest(message, **kwargs)
    return Unavailable(message, **kwargs)


def map_exception(exc: httpx.HTTPError) -> ProviderError:
    if isinstance(exc, httpx.HTTPStatusError):
        return error_for(exc.response)
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return Timeout(f"{NAME}: no answer in time ({exc})", provider=NAME, request_sent=True)
    if isinstance(exc, httpx.TransportError):
        return Unavailable(f"{NAME}: {type(exc).__name__}: {exc}", provider=NAME)
    return ProviderError(f"{NAME}: {type(exc).__name__}: {exc}", provider=NAME)


@contextmanager
def mapped() -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError as exc:
        raise map_exception(exc) from exc


class EchoHTTPProvider(Provider):
    """A complete, correct provider (the meta-test's false-alarm control)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._client = httpx.Client(base_url=base_url, timeout=timeout)
        self._tokenizer = WhitespaceTokenizer()
        self._info = ModelInfo(
            id="echo",
            provider=NAME,
            capabilities=Capabilities(
                generate=True,
                chat=True,
                stream=True,
                embed=True,
                tools=True,
                structured_output="native",
                async_native=True,
                max_context=4096,
            ),
            boundary=Boundary(
                provider=NAME,
                location_kind="customer-cloud",
                region="eu-west-1",
                endpoint=base_url,
                tls=False,
                network_path="loopback",
            ),
            embedding_dimension=8,
            embedding_normalized=True,
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def tokenizer(self) -> WhitespaceTokenizer:
        return self._tokenizer

    # -- wire ------------------------------------------------------------------------------

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "stop": list(request.stop),
            "temperature": request.temperature,
            "top_p": request.top_p,
            "top_k": request.top_k,
            "stream": stream,
        }
        if request.messages is not None:
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        else:
            body["prompt"] = request.prompt
        if request.tools:
            body["tools"] = list(request.tools)
            if request.tool_choice is not None:
                body["tool_choice"] = request.tool_choice
        if request.response_format is not None:
            body["response_format"] = request.response_format
        return {**request.extra, **body}

    def read_timeout(self, request: GenerateRequest | EmbedRequest) -> httpx.Timeout:
        # The request's seconds bound the answer; connecting has its own budget, so a busy
        # machine's slow accept is not mistaken for a slow model.
        return httpx.Timeout(request.timeout or self.timeout, connect=CONNECT_TIMEOUT)

    def usage(self, data: dict[str, Any]) -> Usage:
        counts = data["usage"]
        return Usage(input_tokens=counts["input_tokens"], output_tokens=counts["output_tokens"], source="server")

    def response(self, data: dict[str, Any], started: float) -> GenerateResponse:
        calls = tuple(ToolCall(**call) for call in data.get("tool_calls", ()))
        return GenerateResponse(
            text=data["text"],
            finish_reason=data["finish_reason"],
            usage=self.usage(data),
            model=self._info.id,
            tool_calls=calls,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            raw=data,
        )

    def events(self, line: dict[str, Any]) -> Iterator[Any]:
        if "delta" in line:
            yield TextDelta(text=line["delta"])
        elif "tool_call" in line:
            yield ToolCallEvent(tool_call=ToolCall(**line["tool_call"]))
        elif "finish_reason" in line:
            usage = self.usage(line)
            yield UsageEvent(usage=usage)
            yield FinishEvent(finish_reason=line["finish_reason"], usage=usage)

    def embed_response(self, data: dict[str, Any], started: float) -> EmbedResponse:
        rows = sorted(data["data"], key=lambda row: row["index"])
        return EmbedResponse(
            vectors=tuple(tuple(row["embedding"]) for row in rows),
            model=self._info.id,
            normalized=True,
            usage=Usage(input_tokens=data["usage"]["input_tokens"], output_tokens=0, source="server"),
            latency_ms=(time.perf_counter() - started) * 1000.0,
        )

    # -- sync ------------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        with mapped():
            response = self._client.post(path, json=body, timeout=timeout)
        if response.status_code >= 400:
            raise error_for(response)
        data: dict[str, Any] = response.json()
        return data

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        data = self.post("/generate", self.payload(request, stream=False), self.read_timeout(request))
        return self.response(data, started)

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        body = self.payload(request, stream=True)
        finished = False
        with mapped(), self._client.stream("POST", "/generate", json=body, timeout=self.read_timeout(request)) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise error_for(resp)
            for line in resp.iter_lines():
                if line:
                    for event in self.events(json.loads(line)):
                        finished = finished or isinstance(event, FinishEvent)
                        yield event
        if not finished:
            yield FinishEvent(finish_reason="stop")

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        started = time.perf_counter()
        data = self.post("/embed", {"texts": list(request.texts), **request.extra}, self.read_timeout(request))
        return self.embed_response(data, started)

    # -- async -----------------------------------------------------------------------------

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.base_url, verify=_TLS) as client:
            with mapped():
                response = await client.post(path, json=body, timeout=timeout)
        if response.status_code >= 400:
            raise error_for(response)
        data: dict[str, Any] = response.json()
        return data

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        data = await self.apost("/generate", self.payload(request, stream=False), self.read_timeout(request))
        return self.response(data, started)

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[Any]:  # type: ignore[override]
        body = self.payload(request, stream=True)
        finished = False
        async with httpx.AsyncClient(base_url=self.base_url, verify=_TLS) as client:
            with mapped():
                async with client.stream("POST", "/generate", json=body, timeout=self.read_timeout(request)) as resp:
                    if resp.status_code >= 400:
                        await resp.aread()
                        raise error_for(resp)
                    async for line in resp.aiter_lines():
                        if line:
                            for event in self.events(json.loads(line)):
                                finished = finished or isinstance(event, FinishEvent)
                                yield event
        if not finished:
            yield FinishEvent(finish_reason="stop")

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        started = time.perf_counter()
        body = {"texts": list(request.texts), **request.extra}
        data = await self.apost("/embed", body, self.read_timeout(request))
        return self.embed_response(data, started)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()
        super().close()
