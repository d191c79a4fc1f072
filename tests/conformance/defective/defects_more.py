"""More defective httpx providers (suite 2.1): each subclass of the correct
:class:`EchoHTTPProvider` breaks one clause that suite 2.0 let through — stop strings
applied client side, async paths built by hand, cancellation, sockets, the boundary, the
wire payload, tool call ids, retries."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import httpx

from byom_sdk import (
    BadRequest,
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    Provider,
    TextDelta,
    Throttled,
    Timeout,
    ToolCall,
    ToolCallEvent,
    Unavailable,
    Usage,
    UsageEvent,
)

from ._http import _TLS, NAME, EchoHTTPProvider, error_for, mapped


def _cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    cut = min((i for i in (text.find(s) for s in stops) if i != -1), default=-1)
    return (text[:cut], True) if cut != -1 else (text, False)


class _ClientSideStop(EchoHTTPProvider):
    """Base: the endpoint "has no stop parameter" for the paths ``client_stop`` names."""

    client_stop: tuple[bool, ...] = (False, True)  # which ``stream`` values strip ``stop``

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if stream in self.client_stop:
            body["stop"] = []
        return body


class UsageAfterFinish(EchoHTTPProvider):
    """Maps OpenAI-style chunks in wire order: the finish chunk becomes the FinishEvent and
    the trailing ``include_usage`` chunk a UsageEvent *after* it."""

    def events(self, line: dict[str, Any]) -> Iterator[Any]:
        if "finish_reason" in line:
            yield FinishEvent(finish_reason=line["finish_reason"])
            yield UsageEvent(usage=self.usage(line))
        else:
            yield from super().events(line)


class StreamStopPerDelta(_ClientSideStop):
    """Applies stop strings to the stream client side, searching each delta on its own: a
    stop string spanning two deltas ("one to") is never found."""

    client_stop = (True,)

    def _cut(self, request: GenerateRequest, state: dict[str, Any], event: Any) -> Iterator[Any]:
        if isinstance(event, TextDelta):
            if not state["stopped"]:
                text, state["stopped"] = _cut_at_stop(event.text, request.stop)  # per delta: the bug
                if text:
                    state["emitted"] += text
                    yield TextDelta(text=text)
        elif isinstance(event, FinishEvent):
            assert event.usage is not None
            count = self.tokenizer.count(state["emitted"])
            usage = Usage(input_tokens=event.usage.input_tokens, output_tokens=count, source="server")
            yield UsageEvent(usage=usage)
            yield FinishEvent(finish_reason="stop" if state["stopped"] else event.finish_reason, usage=usage)
        elif not isinstance(event, UsageEvent):
            yield event

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        state: dict[str, Any] = {"emitted": "", "stopped": False}
        for event in super().handle_stream(request):
            yield from (self._cut(request, state, event) if request.stop else (event,))

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[Any]:  # type: ignore[override]
        state: dict[str, Any] = {"emitted": "", "stopped": False}
        async for event in super().ahandle_stream(request):
            for out in self._cut(request, state, event) if request.stop else (event,):
                yield out


class ClientStopKeepsServerUsage(_ClientSideStop):
    """Cuts the unary text at the stop string client side but keeps the server's usage,
    which counts the tokens generated past it."""

    client_stop = (False,)

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        response = super().handle_generate(request)
        return response.model_copy(update={"text": _cut_at_stop(response.text, request.stop)[0]})

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        response = await super().ahandle_generate(request)
        return response.model_copy(update={"text": _cut_at_stop(response.text, request.stop)[0]})


class ClientStopMissesMatchAtStart(_ClientSideStop):
    """Applies unary stop strings client side with ``if text.find(stop) > 0``: a stop string
    at the very start of the answer is left in the text."""

    client_stop = (False,)

    def _apply(self, request: GenerateRequest, response: GenerateResponse) -> GenerateResponse:
        text = response.text
        for stop in request.stop:
            cut = text.find(stop)
            if cut > 0:  # the bug: a match at index 0 is ignored
                text = text[:cut]
        if text == response.text:
            return response
        usage = response.usage.model_copy(update={"output_tokens": self.tokenizer.count(text)})
        return response.model_copy(update={"text": text, "finish_reason": "stop", "usage": usage})

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        return self._apply(request, super().handle_generate(request))

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        return self._apply(request, await super().ahandle_generate(request))


class MidStreamErrorLeaks(EchoHTTPProvider):
    """Maps httpx errors around opening the stream only: a connection dropped while the
    lines are read escapes as a raw ``httpx.RemoteProtocolError``."""

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        body = self.payload(request, stream=True)
        with mapped():
            sent = self._client.build_request("POST", "/generate", json=body, timeout=self.read_timeout(request))
            resp = self._client.send(sent, stream=True)
        try:
            if resp.status_code >= 400:
                resp.read()
                raise error_for(resp)
            for line in resp.iter_lines():  # not mapped
                if line:
                    yield from self.events(json.loads(line))
        finally:
            resp.close()

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[Any]:  # type: ignore[override]
        body = self.payload(request, stream=True)
        async with httpx.AsyncClient(base_url=self.base_url, verify=_TLS) as client:
            with mapped():
                sent = client.build_request("POST", "/generate", json=body, timeout=self.read_timeout(request))
                resp = await client.send(sent, stream=True)
            try:
                if resp.status_code >= 400:
                    await resp.aread()
                    raise error_for(resp)
                async for line in resp.aiter_lines():  # not mapped
                    if line:
                        for event in self.events(json.loads(line)):
                            yield event
            finally:
                await resp.aclose()


class AgenerateCancelBecomesTimeout(EchoHTTPProvider):
    """Turns ``asyncio.CancelledError`` in ``ahandle_generate`` into ``Timeout``: a cancelled
    task fails instead of ending cancelled."""

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        try:
            return await super().ahandle_generate(request)
        except asyncio.CancelledError as exc:
            raise Timeout(f"{NAME}: request cancelled before the answer", provider=NAME) from exc


_DONE = object()


class AstreamProducerTaskLeaks(EchoHTTPProvider):
    """Reads the stream in a background producer task feeding a queue and never cancels it
    when the consumer stops: it keeps reading the whole generation."""

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[Any]:  # type: ignore[override]
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def produce() -> None:
            try:
                async for event in EchoHTTPProvider.ahandle_stream(self, request):
                    await queue.put(event)
            except Exception as exc:
                await queue.put(exc)
            else:
                await queue.put(_DONE)

        self._producer = asyncio.get_running_loop().create_task(produce())
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class CloseLeaksHTTPClient(EchoHTTPProvider):
    """``close()`` marks the provider closed but never closes its ``httpx.Client``: the
    pooled keep-alive sockets stay open."""

    def close(self) -> None:
        Provider.close(self)


class AgenerateDropsStop(EchoHTTPProvider):
    """``ahandle_generate`` builds its payload by hand and forgets ``stop``."""

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        body = {**self.payload(request, stream=False), "stop": []}
        data = await self.apost("/generate", body, self.read_timeout(request))
        return self.response(data, started)


class RemoteAPIDeclaredInProcess(EchoHTTPProvider):
    """Declares the in-process template's boundary (``location_kind="process"``, no
    endpoint) while every call goes over HTTP."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        boundary = self._info.boundary.model_copy(
            update={
                "location_kind": "process",
                "network_path": "in-process",
                "retention": "none",
                "endpoint": None,
                "host": None,
                "region": None,
                "tls": None,
                "region_source": "process",
            }
        )
        self._info = self._info.model_copy(update={"boundary": boundary})


class SendsOnlyLastMessage(EchoHTTPProvider):
    """Sends only the last message: the system prompt and the history are dropped."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if "messages" in body:
            body["messages"] = body["messages"][-1:]
        return body


class AsyncDropsMaxTokens(EchoHTTPProvider):
    """The async side builds its payload by hand and forgets ``max_tokens``."""

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        body = {k: v for k, v in self.payload(request, stream=False).items() if k != "max_tokens"}
        data = await self.apost("/generate", body, self.read_timeout(request))
        return self.response(data, started)

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[Any]:  # type: ignore[override]
        body = {k: v for k, v in self.payload(request, stream=True).items() if k != "max_tokens"}
        async with httpx.AsyncClient(base_url=self.base_url, verify=_TLS) as client:
            with mapped():
                async with client.stream("POST", "/generate", json=body, timeout=self.read_timeout(request)) as resp:
                    if resp.status_code >= 400:
                        await resp.aread()
                        raise error_for(resp)
                    async for line in resp.aiter_lines():
                        if line:
                            for event in self.events(json.loads(line)):
                                yield event


class AsyncStreamDropsToolCalls(EchoHTTPProvider):
    """The async stream's event mapping has no tool-call branch: ``astream`` of a tool
    request yields no ``ToolCallEvent``."""

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[Any]:  # type: ignore[override]
        async for event in super().ahandle_stream(request):
            if not isinstance(event, ToolCallEvent):
                yield event


class MutatesResponseFormat(EchoHTTPProvider):
    """Forces strict mode by writing ``strict: True`` into the caller's
    ``response_format["json_schema"]`` in place."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        answer_format = request.response_format
        if isinstance(answer_format, dict) and isinstance(answer_format.get("json_schema"), dict):
            answer_format["json_schema"].setdefault("strict", True)
        return super().payload(request, stream=stream)


class ConnectErrorIsBadRequest(EchoHTTPProvider):
    """Maps ``httpx.ConnectError`` (nothing listens: the endpoint is restarting) to
    ``BadRequest`` ("check base_url"), so an outage is never retried."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        try:
            return super().post(path, body, timeout)
        except Unavailable as exc:
            if isinstance(exc.__cause__, httpx.ConnectError):
                raise BadRequest(f"{NAME}: cannot reach {self.base_url}; check base_url", provider=NAME) from exc
            raise

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        return await asyncio.to_thread(self.post, path, body, timeout)


class NoMaxTokensTinyDefault(EchoHTTPProvider):
    """Without ``max_tokens`` sends a "safe" default of 4: every call that sets no limit is
    silently cut."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if body.get("max_tokens") is None:
            body["max_tokens"] = 4
        return body


class EmbedDropsBeyondBatchLimit(EchoHTTPProvider):
    """The server takes 16 texts per call; the provider sends the first 16 of a larger
    batch and returns 16 vectors instead of splitting it."""

    BATCH = 16

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        started = time.perf_counter()
        body = {"texts": list(request.texts)[: self.BATCH], **request.extra}
        return self.embed_response(self.post("/embed", body, self.read_timeout(request)), started)

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        started = time.perf_counter()
        body = {"texts": list(request.texts)[: self.BATCH], **request.extra}
        return self.embed_response(await self.apost("/embed", body, self.read_timeout(request)), started)


class ToolCallIdDropped(EchoHTTPProvider):
    """Reads the tool call id from another vendor's field (``tool_call_id``) and falls back
    to ``""``: no tool result can be matched to its call."""

    @staticmethod
    def _call(call: Mapping[str, Any]) -> ToolCall:
        return ToolCall(id=call.get("tool_call_id", ""), name=call["name"], arguments=call["arguments"])

    def response(self, data: dict[str, Any], started: float) -> GenerateResponse:
        response = super().response({**data, "tool_calls": []}, started)
        return response.model_copy(update={"tool_calls": tuple(self._call(c) for c in data.get("tool_calls", ()))})

    def events(self, line: dict[str, Any]) -> Iterator[Any]:
        if "tool_call" in line:
            yield ToolCallEvent(tool_call=self._call(line["tool_call"]))
        else:
            yield from super().events(line)


class RetriesInternally(EchoHTTPProvider):
    """Retries 429/503 itself (3 attempts) before raising, on top of the SDK's retry
    policy: every throttled call hits the endpoint three times."""

    attempts = 3

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        for attempt in range(self.attempts):
            try:
                return super().post(path, body, timeout)
            except (Throttled, Unavailable):
                if attempt == self.attempts - 1:
                    raise
                time.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    async def apost(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        for attempt in range(self.attempts):
            try:
                return await super().apost(path, body, timeout)
            except (Throttled, Unavailable):
                if attempt == self.attempts - 1:
                    raise
                await asyncio.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")


class LazyClientCloseCrashes(EchoHTTPProvider):
    """Creates its ``httpx.Client`` on first call; ``close()`` of a provider never used
    fails with ``AttributeError``."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._client.close()
        self._lazy: httpx.Client | None = None

    @property  # type: ignore[override]
    def _client(self) -> httpx.Client:
        if self._lazy is None:
            self._lazy = httpx.Client(base_url=self.base_url, timeout=self.timeout)
        return self._lazy

    @_client.setter
    def _client(self, value: httpx.Client) -> None:
        self._lazy = value

    def close(self) -> None:
        self._lazy.close()  # type: ignore[union-attr]
        Provider.close(self)
