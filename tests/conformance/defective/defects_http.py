"""Defective httpx providers: each subclass of the correct :class:`EchoHTTPProvider` breaks
one clause of the contract, the way plugin authors actually get it wrong."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from byom_sdk import (
    BadRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    Provider,
    TextDelta,
    Throttled,
    Unavailable,
    Usage,
)

from ._http import _TLS, CONNECT_TIMEOUT, NAME, EchoHTTPProvider, error_for, map_exception, mapped


class AstreamLeaksRawHTTPError(EchoHTTPProvider):
    """``ahandle_stream`` calls ``raise_for_status()`` and lets ``httpx.HTTPStatusError``
    escape: every sync path and agenerate map errors, the async stream does not."""

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[Any]:  # type: ignore[override]
        body = self.payload(request, stream=True)
        async with (
            httpx.AsyncClient(base_url=self.base_url, verify=_TLS) as client,
            client.stream("POST", "/generate", json=body, timeout=self.read_timeout(request)) as resp,
        ):
            resp.raise_for_status()
            async for line in resp.aiter_lines():
                if line:
                    for event in self.events(json.loads(line)):
                        yield event


class AuthMappedToUnavailable(EchoHTTPProvider):
    """Treats every 4xx/5xx it does not recognise — 401 included — as a retryable outage."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        with mapped():
            response = self._client.post(path, json=body, timeout=timeout)
        if response.status_code in (401, 403):
            raise Unavailable(f"{NAME}: endpoint refused the call", provider=NAME, status_code=response.status_code)
        if response.status_code >= 400:
            raise error_for(response)
        data: dict[str, Any] = response.json()
        return data

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        return await asyncio.to_thread(self.post, path, body, timeout)


class IgnoresRequestTimeout(EchoHTTPProvider):
    """Uses the configured timeout for every call; ``request.timeout`` never reaches httpx."""

    def read_timeout(self, request: Any) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=CONNECT_TIMEOUT)


class BlockingAsyncGenerate(EchoHTTPProvider):
    """A native ``ahandle_generate`` that calls the sync client: the event loop is blocked
    for as long as the endpoint takes."""

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        return self.handle_generate(request)


class SwallowsStreamCancel(EchoHTTPProvider):
    """``ahandle_stream`` catches ``CancelledError`` to end the stream "cleanly"."""

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[Any]:  # type: ignore[override]
        try:
            async for event in super().ahandle_stream(request):
                yield event
        except asyncio.CancelledError:
            return


class StreamStateOnSelf(EchoHTTPProvider):
    """Keeps the open response's line iterator on ``self`` (so ``close()`` could abort it):
    two streams open at once read each other's lines."""

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        body = self.payload(request, stream=True)
        with mapped(), self._client.stream("POST", "/generate", json=body, timeout=self.read_timeout(request)) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise error_for(resp)
            self._lines = resp.iter_lines()
            while True:
                line = next(self._lines, None)
                if line is None:
                    return
                if line:
                    yield from self.events(json.loads(line))


class GuessedServerUsage(EchoHTTPProvider):
    """Estimates output tokens as 4 characters each (the body's count "looked optional")
    and still labels the usage ``source="server"``."""

    def usage(self, data: dict[str, Any]) -> Usage:
        guess = math.ceil(len(data.get("text", "")) / 4)
        return Usage(input_tokens=data["usage"]["input_tokens"], output_tokens=guess, source="server")


class MutatesCallerExtra(EchoHTTPProvider):
    """Fills the server's ``options`` defaults into the caller's nested ``extra`` dict."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = dict(request.extra)
        options = body.setdefault("options", {})
        options.setdefault("num_predict", request.max_tokens)
        body.update(super().payload(request, stream=stream))
        return body


class ToolsNeverSent(EchoHTTPProvider):
    """Declares ``tools`` but builds its payload without them."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        body.pop("tools", None)
        return body


class StructuredOutputNeverSent(EchoHTTPProvider):
    """Declares native ``structured_output`` but builds its payload without ``response_format``."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        body.pop("response_format", None)
        return body


class DropsRetryAfter(EchoHTTPProvider):
    """Maps 429 to ``Throttled`` but never reads ``Retry-After``."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        try:
            return super().post(path, body, timeout)
        except Throttled as exc:
            raise Throttled(exc.message, provider=NAME, status_code=429) from exc

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        try:
            return await super().apost(path, body, timeout)
        except Throttled as exc:
            raise Throttled(exc.message, provider=NAME, status_code=429) from exc


class EmptyTextOnLengthCut(EchoHTTPProvider):
    """On a ``length`` cut drops the last word ("it may be partial"), keeping the server's
    usage: a one-token answer becomes empty text with ``output_tokens=1``."""

    def response(self, data: dict[str, Any], started: float) -> GenerateResponse:
        if data["finish_reason"] == "length":
            data = {**data, "text": data["text"].rsplit(" ", 1)[0] if " " in data["text"].strip() else ""}
        return super().response(data, started)


class LeaksExecutorThreads(EchoHTTPProvider):
    """Parses embeddings on a private ``ThreadPoolExecutor`` that ``close()`` never shuts down."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._pool = ThreadPoolExecutor(max_workers=2)

    def embed_response(self, data: dict[str, Any], started: float) -> EmbedResponse:
        return self._pool.submit(super().embed_response, data, started).result()


class BufferedStream(EchoHTTPProvider):
    """Reads the whole streamed body, then yields its lines: nothing arrives until the end."""

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        body = self.payload(request, stream=True)
        with mapped():
            response = self._client.post("/generate", json=body, timeout=self.read_timeout(request))
        if response.status_code >= 400:
            raise error_for(response)
        for line in response.text.splitlines():
            if line:
                yield from self.events(json.loads(line))


class LoopBoundAsyncClient(EchoHTTPProvider):
    """Creates one ``httpx.AsyncClient`` on first use and keeps it: the next ``asyncio.run``
    finds it bound to a closed event loop."""

    _aclient: httpx.AsyncClient | None = None

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(base_url=self.base_url, verify=_TLS)
        with mapped():
            response = await self._aclient.post(path, json=body, timeout=timeout)
        if response.status_code >= 400:
            raise error_for(response)
        data: dict[str, Any] = response.json()
        return data


class CloseWithoutSuper(EchoHTTPProvider):
    """Closes its client but never calls ``super().close()``: the provider never says it is
    closed, so later calls reach the released client."""

    def close(self) -> None:
        self._client.close()


class StreamDropsMaxTokens(EchoHTTPProvider):
    """The streaming payload is built by hand and forgets ``max_tokens``."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if stream:
            body["max_tokens"] = None
        return body


class FinishAlwaysStop(EchoHTTPProvider):
    """Hard-codes ``finish_reason="stop"`` instead of mapping the server's reason."""

    def response(self, data: dict[str, Any], started: float) -> GenerateResponse:
        reason = data["finish_reason"]
        return super().response({**data, "finish_reason": "stop" if reason == "length" else reason}, started)


class NoFinishEvent(EchoHTTPProvider):
    """Passes stream lines through and never ends with a ``FinishEvent``."""

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        for event in super().handle_stream(request):
            if not isinstance(event, FinishEvent):
                yield event


class EmbedIgnoresIndex(EchoHTTPProvider):
    """Takes embeddings in the order the server listed them, ignoring ``index``."""

    def embed_response(self, data: dict[str, Any], started: float) -> EmbedResponse:
        rows = [{**row, "index": position} for position, row in enumerate(data["data"])]
        return super().embed_response({**data, "data": rows}, started)


class StopSentUnderWrongKey(EchoHTTPProvider):
    """Sends stop strings as ``stop_sequences``, a key this server ignores."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        body["stop_sequences"] = body.pop("stop")
        return body


class OverridesPublicGenerate(EchoHTTPProvider):
    """Adds a "convenient" public ``generate`` that builds the request itself, bypassing the
    core's validation (``InvalidValue`` escapes, not the ``BadRequest`` naming the field)."""

    def generate(self, input: Any, /, **params: Any) -> GenerateResponse:  # type: ignore[override]
        if isinstance(input, str):
            input = GenerateRequest(prompt=input, **{k: v for k, v in params.items() if v is not None})
        return super().generate(input)


class ReadTimeoutIsRetryable(EchoHTTPProvider):
    """Maps ``httpx.ReadTimeout`` to ``Unavailable`` ("just retry"): a generation that may
    still be running is sent again."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        try:
            response = self._client.post(path, json=body, timeout=timeout)
        except httpx.ReadTimeout as exc:
            raise Unavailable(f"{NAME}: read timeout, retry", provider=NAME) from exc
        except httpx.HTTPError as exc:
            raise map_exception(exc) from exc
        if response.status_code >= 400:
            raise error_for(response)
        data: dict[str, Any] = response.json()
        return data


class DeclaresAsyncNativeWithoutIt(EchoHTTPProvider):
    """Dropped its async side (sync only now) but still declares ``async_native=True``."""

    ahandle_generate = Provider.ahandle_generate
    ahandle_stream = Provider.ahandle_stream
    ahandle_embed = Provider.ahandle_embed


class EmbeddingsNotNormalized(EchoHTTPProvider):
    """Declares unit-length embeddings but returns the server's raw vectors scaled (a model
    whose pooling lost its final L2 normalisation)."""

    def embed_response(self, data: dict[str, Any], started: float) -> EmbedResponse:
        rows = [{**row, "embedding": [2.0 * v for v in row["embedding"]]} for row in data["data"]]
        return super().embed_response({**data, "data": rows}, started)


class DeclaresWrongDimension(EchoHTTPProvider):
    """Declares the dimension of another model of the family (16) while serving 8."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._info = self._info.model_copy(update={"embedding_dimension": 16})


class ContainerErrorIsRetryable(EchoHTTPProvider):
    """Maps the container's 424 (the model failed) to ``Unavailable``: a request that broke
    the model is retried."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        with mapped():
            response = self._client.post(path, json=body, timeout=timeout)
        if response.status_code == 424:
            raise Unavailable(f"{NAME}: model failed, retry", provider=NAME, status_code=424)
        if response.status_code >= 400:
            raise error_for(response)
        data: dict[str, Any] = response.json()
        return data

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        return await asyncio.to_thread(self.post, path, body, timeout)


class CloseNotIdempotent(EchoHTTPProvider):
    """Drops its client on ``close()``; a second ``close()`` fails with AttributeError."""

    def close(self) -> None:
        self._client.close()
        del self._client
        Provider.close(self)


class StreamWithoutUsage(EchoHTTPProvider):
    """Streams end with a bare ``FinishEvent``: the server's counts on the last line are
    dropped, so a streamed call reports no usage."""

    def events(self, line: dict[str, Any]) -> Iterator[Any]:
        if "finish_reason" in line:
            yield FinishEvent(finish_reason=line["finish_reason"])
        else:
            yield from super().events(line)


class StreamIgnoresStop(EchoHTTPProvider):
    """The streaming payload is built by hand and forgets the stop strings."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if stream:
            body["stop"] = []
        return body


class ZeroInputUsage(EchoHTTPProvider):
    """Reads only the completion count and reports 0 input tokens for every prompt."""

    def usage(self, data: dict[str, Any]) -> Usage:
        return Usage(input_tokens=0, output_tokens=data["usage"]["output_tokens"], source="server")


class EmbedsFirstTextOnly(EchoHTTPProvider):
    """Reads the first row of the server's answer for every text (a batch-shape slip):
    every text of a batch gets the same vector."""

    def embed_response(self, data: dict[str, Any], started: float) -> EmbedResponse:
        rows = sorted(data["data"], key=lambda row: row["index"])
        first = rows[0]["embedding"]
        return super().embed_response({**data, "data": [{**row, "embedding": first} for row in rows]}, started)


class FinishAlwaysLength(EchoHTTPProvider):
    """Maps every finish reason the server sends to ``"length"``."""

    def response(self, data: dict[str, Any], started: float) -> GenerateResponse:
        return super().response({**data, "finish_reason": "length"}, started)


class SystemRoleRejected(EchoHTTPProvider):
    """Sends only user and assistant turns and refuses a conversation holding a system
    message, which its API "does not support"."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        if request.messages is not None and any(m.role == "system" for m in request.messages):
            raise BadRequest(f"{NAME}: role 'system' is not supported", provider=NAME)
        return super().payload(request, stream=stream)


class AsyncStreamDropsLastDelta(EchoHTTPProvider):
    """The async stream's hand-written line loop stops at the finish line one line early,
    losing the last delta (the sync stream is right)."""

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[Any]:  # type: ignore[override]
        held: TextDelta | None = None
        async for event in super().ahandle_stream(request):
            if isinstance(event, TextDelta):
                if held is not None:
                    yield held
                held = event  # the delta before the finish line is never yielded
            else:
                yield event


class AsyncEmbedIgnoresIndex(EchoHTTPProvider):
    """``ahandle_embed`` takes rows in the server's order; only the sync side sorts them."""

    async def ahandle_embed(self, request: Any) -> EmbedResponse:
        response = await super().ahandle_embed(request)
        return response.model_copy(update={"vectors": tuple(reversed(response.vectors))})


class HttpsEndpointDeclaredWithoutTLS(EchoHTTPProvider):
    """Declares an ``https://`` endpoint with ``tls=False`` (copied from the test config)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        boundary = self._info.boundary.model_copy(update={"endpoint": "https://echo.example.com", "tls": False})
        self._info = self._info.model_copy(update={"boundary": boundary})


class AsyncRequestOnSelf(EchoHTTPProvider):
    """Keeps the current request on ``self`` across an await (a token refresh) in its
    async path: concurrent tasks on one loop send each other's prompts."""

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        self._current = request
        await asyncio.sleep(0.001)  # "refresh the token"
        started = time.perf_counter()
        data = await self.apost("/generate", self.payload(self._current, stream=False), self.read_timeout(request))
        return self.response(data, started)
