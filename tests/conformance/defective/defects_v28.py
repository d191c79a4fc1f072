"""Suite 2.8: a fourth independent probe — plugins written quickly, each getting one clause
of the contract subtly wrong: usage, stream framing, tool calls, embeddings, the tokenizer,
state shared between instances, ``close``/``aclose``, ``request_sent``, the boundary's host
and raw errors on a truncated unary answer."""

from __future__ import annotations

import json
import math
import time
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from byom_sdk import (
    Boundary,
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    ModelInfo,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Unavailable,
    Usage,
)
from byom_sdk.testing import ScriptedModel, WhitespaceTokenizer

from ._http import NAME, EchoHTTPProvider, error_for, map_exception, mapped

__all__ = [
    "AcloseDoesNothing",
    "AembedBlocksLoop",
    "AembedTruncatesBatch",
    "BoundaryNamesAnotherHost",
    "CumulativeUsage",
    "DeltaAfterFinish",
    "EmbedNormalizedAcrossBatch",
    "EmbedPopsCallerExtra",
    "LatencyFromConstruction",
    "MaxTokensMinusOne",
    "ModuleAnswerCache",
    "PromptCountedAsCompletion",
    "RefusedConnectionMarkedSent",
    "SharedClientClosedByAnyInstance",
    "StatusErrorsMarkedSent",
    "StopStringKeptInText",
    "TokenizerDecodesToNFC",
    "ToolArgumentsAsPythonRepr",
    "TwoFinishEvents",
    "UnaryTruncatedBodyLeaksValueError",
]


class PromptCountedAsCompletion(EchoHTTPProvider):
    """Reads the server's ``total_tokens``-style sum as the completion: ``output_tokens`` is
    prompt plus completion."""

    def usage(self, data: dict[str, Any]) -> Usage:
        counts = data["usage"]
        total = counts["input_tokens"] + counts["output_tokens"]
        return Usage(input_tokens=counts["input_tokens"], output_tokens=total, source="server")


class CumulativeUsage(EchoHTTPProvider):
    """Reports the session's running totals (kept on ``self`` for a billing dashboard) as
    each call's usage: right on the first call, inflated on every later one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._spent = [0, 0]

    def usage(self, data: dict[str, Any]) -> Usage:
        counts = data["usage"]
        self._spent[0] += counts["input_tokens"]
        self._spent[1] += counts["output_tokens"]
        return Usage(input_tokens=self._spent[0], output_tokens=self._spent[1], source="server")


class StopStringKeptInText(EchoHTTPProvider):
    """Applies stop strings client side on unary calls and cuts *after* the match, so the
    stop string stays at the end of the text."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if not stream:
            body["stop"] = []
        return body

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        reply = super().handle_generate(request)
        hits = [(reply.text.find(s), s) for s in request.stop if s in reply.text]
        if not hits:
            return reply
        index, stop = min(hits)
        return reply.model_copy(update={"text": reply.text[: index + len(stop)], "finish_reason": "stop"})


class DeltaAfterFinish(EchoHTTPProvider):
    """Flushes its incremental decoder after the finish line: an empty ``TextDelta`` follows
    the ``FinishEvent``."""

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        yield from super().handle_stream(request)
        yield TextDelta(text="")


class TwoFinishEvents(EchoHTTPProvider):
    """Yields the server's finish line as a ``FinishEvent`` and then, from an inverted
    ``if not finished`` guard, a second one."""

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        yield from super().handle_stream(request)
        yield FinishEvent(finish_reason="stop")


class ToolArgumentsAsPythonRepr(EchoHTTPProvider):
    """Parses the tool call's arguments and hands back ``str(dict)``: Python's repr, not
    JSON."""

    @staticmethod
    def _repr(call: dict[str, Any]) -> ToolCall:
        return ToolCall(**{**call, "arguments": str(json.loads(call["arguments"]))})

    def response(self, data: dict[str, Any], started: float) -> GenerateResponse:
        reply = super().response(data, started)
        calls = tuple(self._repr(call) for call in data.get("tool_calls", ()))
        return reply.model_copy(update={"tool_calls": calls})

    def events(self, line: dict[str, Any]) -> Iterator[Any]:
        if "tool_call" in line:
            yield ToolCallEvent(tool_call=self._repr(line["tool_call"]))
            return
        yield from super().events(line)


class AembedTruncatesBatch(EchoHTTPProvider):
    """The async embed path sends the first 16 texts only (the server's batch limit) and
    pads the answer with copies of the last vector; the sync path chunks correctly."""

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        head = request.model_copy(update={"texts": request.texts[:16]})
        response = await super().ahandle_embed(head)
        missing = len(request.texts) - len(response.vectors)
        vectors = response.vectors + (response.vectors[-1],) * missing
        return response.model_copy(update={"vectors": vectors})


class EmbedNormalizedAcrossBatch(EchoHTTPProvider):
    """ "Normalises" with ``v / np.linalg.norm(matrix)`` (no ``axis``): one text is unit
    length, every vector of a batch is shorter."""

    def embed_response(self, data: dict[str, Any], started: float) -> EmbedResponse:
        response = super().embed_response(data, started)
        norm = math.sqrt(sum(x * x for vector in response.vectors for x in vector)) or 1.0
        vectors = tuple(tuple(x / norm for x in vector) for vector in response.vectors)
        return response.model_copy(update={"vectors": vectors})


class TokenizerDecodesToNFC(ScriptedModel):
    """Its tokenizer decodes to NFC (a ``unicodedata.normalize`` left in ``decode``): text
    written with combining accents does not survive the round trip."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokenizer_impl = _NFCTokenizer()


class _NFCTokenizer(WhitespaceTokenizer):
    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        return unicodedata.normalize("NFC", super().decode(ids, skip_special_tokens=skip_special_tokens))


#: base URL → the one client every provider of that endpoint shares (connection reuse).
_SHARED: dict[str, httpx.Client] = {}


class SharedClientClosedByAnyInstance(EchoHTTPProvider):
    """Shares one module-level ``httpx.Client`` per endpoint between instances and closes it
    in ``close()``: closing one provider breaks every other provider of that endpoint."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        super().__init__(base_url, timeout=timeout)
        self._client.close()
        shared = _SHARED.get(base_url)
        if shared is None or shared.is_closed:
            shared = _SHARED[base_url] = httpx.Client(base_url=base_url, timeout=timeout)
        self._client = shared


#: the answers of every provider, keyed by the request body (the endpoint is not in it).
_ANSWERS: dict[str, dict[str, Any]] = {}


class ModuleAnswerCache(EchoHTTPProvider):
    """Memoises greedy answers in a module-level dict keyed by the body only: a provider for
    another endpoint (or one that must fail) answers from the first provider's cache."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        key = json.dumps([path, body], sort_keys=True)
        if key not in _ANSWERS:
            _ANSWERS[key] = super().post(path, body, timeout)
        return _ANSWERS[key]

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        key = json.dumps([path, body], sort_keys=True)
        if key not in _ANSWERS:
            _ANSWERS[key] = await super().apost(path, body, timeout)
        return _ANSWERS[key]


def _sent(error: ProviderError) -> ProviderError:
    error.request_sent = True
    return error


class RefusedConnectionMarkedSent(EchoHTTPProvider):
    """Marks every transport error ``request_sent=True`` ("to be safe"): a refused
    connection, which never reached the endpoint, is then never retried."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        try:
            response = self._client.post(path, json=body, timeout=timeout)
        except httpx.TransportError as exc:
            raise _sent(map_exception(exc)) from exc
        if response.status_code >= 400:
            raise error_for(response)
        data: dict[str, Any] = response.json()
        return data

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        try:
            return await super().apost(path, body, timeout)
        except Unavailable as exc:
            raise _sent(exc) from exc.__cause__


class StatusErrorsMarkedSent(EchoHTTPProvider):
    """Marks every error answer ``request_sent=True`` (the server did receive it): a 429,
    which the endpoint refused without running, is then never retried."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        with mapped():
            response = self._client.post(path, json=body, timeout=timeout)
        if response.status_code >= 400:
            raise _sent(error_for(response))
        data: dict[str, Any] = response.json()
        return data

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        try:
            return await super().apost(path, body, timeout)
        except ProviderError as exc:
            if exc.status_code is None:
                raise
            raise _sent(exc) from exc.__cause__


class BoundaryNamesAnotherHost(EchoHTTPProvider):
    """Builds its boundary from the documented regional endpoint while the client talks to
    the configured ``base_url``: the trust gate judges a host the data never goes to."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        super().__init__(base_url, timeout=timeout)
        boundary = Boundary(
            provider=NAME,
            location_kind="customer-cloud",
            region="eu-west-1",
            endpoint="https://echo.eu-west-1.example.com/v1",
            tls=True,
            network_path="private-link",
        )
        self._info = ModelInfo(**{**self._info.model_dump(), "boundary": boundary})


class EmbedPopsCallerExtra(EchoHTTPProvider):
    """Pops its own ``options`` key out of the caller's ``extra`` on embed calls."""

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        request.extra.pop("options", None)
        return super().handle_embed(request)


class AembedBlocksLoop(EchoHTTPProvider):
    """``ahandle_embed`` calls the sync client: the event loop stalls for every request."""

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        return self.handle_embed(request)


class AcloseDoesNothing(EchoHTTPProvider):
    """Overrides ``aclose()`` with a no-op (``async with`` callers never close anything): the
    provider keeps answering after ``aclose()``."""

    async def aclose(self) -> None:
        return None


class UnaryTruncatedBodyLeaksValueError(EchoHTTPProvider):
    """Reads unary answers chunk by chunk and ignores a dropped connection ("use what came"):
    a truncated body reaches ``json.loads`` and a raw ``JSONDecodeError`` escapes."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        chunks: list[bytes] = []
        with mapped(), self._client.stream("POST", path, json=body, timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise error_for(response)
            try:
                for chunk in response.iter_raw():
                    chunks.append(chunk)
            except httpx.RemoteProtocolError:
                pass
        data: dict[str, Any] = json.loads(b"".join(chunks))
        return data

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        chunks: list[bytes] = []
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            with mapped():
                async with client.stream("POST", path, json=body, timeout=timeout) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise error_for(response)
                    try:
                        async for chunk in response.aiter_raw():
                            chunks.append(chunk)
                    except httpx.RemoteProtocolError:
                        pass
        data: dict[str, Any] = json.loads(b"".join(chunks))
        return data


class MaxTokensMinusOne(EchoHTTPProvider):
    """Sends ``max_tokens - 1`` to "leave room for the end-of-sequence token"."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if request.max_tokens and request.max_tokens > 1:
            body["max_tokens"] = request.max_tokens - 1
        return body


class LatencyFromConstruction(EchoHTTPProvider):
    """Measures ``latency_ms`` from the provider's construction, not the call's start."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._born = time.perf_counter()

    def response(self, data: dict[str, Any], started: float) -> GenerateResponse:
        return super().response(data, self._born)
