"""BROKEN providers: each is a correct shape of ``shapes.py`` with one defect that only the
endpoint sees, which a named wire.* check must catch."""

from __future__ import annotations

import unicodedata
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import httpx

from byom_sdk import EmbedRequest, GenerateRequest, StreamEvent

from . import shapes as s

# -- wire.messages: the messages (or texts) the endpoint gets differ from the caller's --------


class DropsSystemInStreams(s.Anthropic):
    """Defect: the stream paths drop the system prompt."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        if stream:
            body.pop("system", None)
        return body


class GeminiSwapsRoles(s.Gemini):
    """Defect: user turns sent as "model" and assistant turns as "user"."""

    ROLES = {"user": "model", "assistant": "user"}


class LangServeSwapsRoles(s.LangServeTyped):
    """Defect: LangChain-typed messages with human and ai swapped (the role key is "type")."""

    TYPES = {"system": "system", "user": "ai", "assistant": "human"}


class TrimsTrailingNewlines(s.OpenAI):
    """Defect: trailing newlines stripped from every message."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        for message in body["messages"]:
            message["content"] = message["content"].rstrip("\n")
        return body


class DropsAssistantTurn(s.OpenAI):
    """Defect: the assistant turns of the history are never sent."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        body["messages"] = [m for m in body["messages"] if m["role"] != "assistant"]
        return body


class LatinReplace(s.OpenAI):
    """Defect: non-Latin-1 characters replaced by "?" on the async paths (a legacy encoder)."""

    def encode(self, body: Any, *, aio: bool = False) -> dict[str, Any]:
        if aio and "messages" in body:
            for message in body["messages"]:
                message["content"] = message["content"].encode("latin-1", "replace").decode("latin-1")
        return super().encode(body, aio=aio)


class NFKCSanitiser(s.OpenAI):
    """Defect: an NFKC "sanitiser" rewrites ligatures, fullwidth forms, NBSP and superscripts."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        for message in body["messages"]:
            message["content"] = unicodedata.normalize("NFKC", message["content"])
        return body


class StripsZeroWidthAndCR(s.OpenAI):
    """Defect: zero-width spaces removed and CRLF turned into LF."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        for message in body["messages"]:
            message["content"] = message["content"].replace("\u200b", "").replace("\r\n", "\n")
        return body


class AppendsToUserTurn(s.OpenAI):
    """Defect: a house instruction appended to the last user message."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        body["messages"][-1]["content"] += "\nAlways answer in English."
        return body


class SystemSentLast(s.OpenAI):
    """Defect: the system message moved after the conversation."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        messages = body["messages"]
        body["messages"] = [m for m in messages if m["role"] != "system"] + [
            m for m in messages if m["role"] == "system"
        ]
        return body


class ConcatsIntoOneUser(s.OpenAI):
    """Defect: the history sent as one labelled user message (the assistant's words in a user turn)."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        system = [m for m in body["messages"] if m["role"] == "system"]
        text = "".join(f"{m['role']}: {m['content']}\n" for m in body["messages"] if m["role"] != "system")
        body["messages"] = [*system, {"role": "user", "content": text}]
        return body


class EmbedDedupesSorted(s.OpenAI):
    """Defect: texts embedded in sorted order (a cache-friendly "optimisation"), mapped back right."""

    def embed_body(self, request: EmbedRequest) -> Any:
        return {"model": "e", "input": sorted(request.texts), **request.extra}


class EmbedSortsByLengthDesc(s.OpenAI):
    """Defect: texts embedded longest first (a batching "optimisation")."""

    def embed_body(self, request: EmbedRequest) -> Any:
        return {"model": "e", "input": sorted(request.texts, key=len, reverse=True), **request.extra}


# -- wire.metadata: the caller's metadata reaches the endpoint --------------------------------


class TenantHeader(s.OpenAI):
    """Defect: the tenant forwarded in an ``X-Tenant`` header."""

    def headers(self, request: GenerateRequest | EmbedRequest) -> dict[str, str]:
        return {"X-Tenant": request.metadata.tenant} if request.metadata.tenant else {}


class TenantInQuery(s.OpenAI):
    """Defect: the tenant forwarded in the query string (``?tenant=...``)."""

    def gen_target(self, request: GenerateRequest, *, stream: bool) -> str:
        query = urllib.parse.urlencode({"tenant": request.metadata.tenant or ""})
        return super().gen_target(request, stream=stream) + "?" + query


class UserInPath(s.OpenAI):
    """Defect: the user forwarded as a path segment (``/v1/users/{user}/...``)."""

    def gen_target(self, request: GenerateRequest, *, stream: bool) -> str:
        return f"/v1/users/{request.metadata.user}" + super().gen_target(request, stream=stream)


class GzipLeaksTenant(s.GzipJSON):
    """Defect: the tenant forwarded in a gzip-compressed body."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        return {**super().body(request, stream=stream), "tenant": request.metadata.tenant}


class AsyncLeaksTenantTLS(s.OpenAI):
    """Defect: the tenant forwarded in the body on the async paths only, over TLS."""

    async def _akwargs(
        self, client: httpx.AsyncClient, body: Any, request: GenerateRequest | EmbedRequest
    ) -> dict[str, Any]:
        return await super()._akwargs(client, {**body, "tenant": request.metadata.tenant}, request)


# -- wire.parameters: the sampling parameters the endpoint gets differ --------------------------


class TemperatureOnlyWhenGreedy(s.OpenAI):
    """Defect: temperature sent only when it is 0."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        if request.temperature != 0:
            body.pop("temperature", None)
        return body


class TemperatureFalsyDropped(s.OpenAI):
    """Defect: the classic ``if request.temperature:``; temperature 0 (greedy) is never sent."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        for key in ("temperature", "top_p", "seed"):
            if not body.get(key):
                body.pop(key, None)
        return body


# -- wire.extra: the caller's extra options do not reach the endpoint where it reads them ----------


class ExtraTopLevelInStream(s.TGI):
    """Defect: the stream paths put extra at the top level, where TGI ignores it (not in "parameters")."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        if stream:
            for key in request.extra:
                body["parameters"].pop(key, None)
            body.update(request.extra)
        return body


class ExtraNestedVerbatim(s.OpenAI):
    """Defect: extra sent literally as ``{"extra": {...}}`` instead of merged into the body."""

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        for key in request.extra:
            body.pop(key, None)
        body["extra"] = dict(request.extra)
        return body


# -- wire.one_request: one call, more than one request carrying the prompt ----------------------


class DuplicateOnAstream(s.OpenAI):
    """Defect: each astream first runs a full generate "to read the usage first" (two requests)."""

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:  # type: ignore[override]
        await self.ahandle_generate(request)
        async for event in super().ahandle_stream(request):
            yield event
