"""Defects only the endpoint sees (suite 2.3's ``wire.*`` checks): the caller gets a
plausible answer while the request that left was not the one asked for — trimmed or
re-encoded messages, a role mapped wrongly, parameters or ``extra`` dropped on one path, the
caller's identity copied into the body, a call sent twice."""

from __future__ import annotations

import time
import unicodedata
from typing import Any

from byom_sdk import EmbedRequest, EmbedResponse, GenerateRequest, GenerateResponse

from ._boto import EchoBotoProvider
from ._http import EchoHTTPProvider, error_for, mapped

__all__ = [
    "AppendsToLastTurn",
    "AssistantSentAsUser",
    "BotoForwardsTenant",
    "DecomposesAccents",
    "EmbedDropsExtra",
    "EmbedStripsTexts",
    "ForwardsCallerAsUser",
    "NormalisesNFKC",
    "StreamDropsExtra",
    "StreamDropsTopP",
    "StreamExtraUnderParameters",
    "StripsMessageWhitespace",
    "SystemSentLast",
    "TemperatureNeverSent",
    "TenantInQueryString",
    "WarmsUpEachCall",
    "ZeroTemperatureDropped",
]


def _messages(body: dict[str, Any], convert: Any) -> dict[str, Any]:
    if "messages" in body:
        body["messages"] = [convert(m) for m in body["messages"]]
    return body


class StripsMessageWhitespace(EchoHTTPProvider):
    """``content.strip()`` on every message "to tidy the prompt": code blocks, trailing
    newlines and indentation the caller meant are gone."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        return _messages(super().payload(request, stream=stream), lambda m: {**m, "content": m["content"].strip()})


class AssistantSentAsUser(EchoHTTPProvider):
    """A role table without ``assistant``: earlier answers go out as the user's words."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        roles = {"system": "system", "user": "user", "tool": "tool"}
        return _messages(super().payload(request, stream=stream), lambda m: {**m, "role": roles.get(m["role"], "user")})


class DecomposesAccents(EchoHTTPProvider):
    """Normalises text to NFD before sending: 'café' arrives as 'cafe' plus a combining
    accent, a different token sequence than the caller's."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if isinstance(body.get("prompt"), str):
            body["prompt"] = unicodedata.normalize("NFD", body["prompt"])
        return _messages(body, lambda m: {**m, "content": unicodedata.normalize("NFD", m["content"])})


class EmbedStripsTexts(EchoHTTPProvider):
    """Strips each text before embedding it (sync and async)."""

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        return super().handle_embed(request.model_copy(update={"texts": tuple(t.strip() for t in request.texts)}))

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        return await super().ahandle_embed(
            request.model_copy(update={"texts": tuple(t.strip() for t in request.texts)})
        )


class ForwardsCallerAsUser(EchoHTTPProvider):
    """Sends ``metadata.user`` as the API's ``user`` field "for abuse monitoring": the
    caller's identity leaves the boundary with every prompt."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if request.metadata.user:
            body["user"] = request.metadata.user
        return body


class StreamDropsExtra(EchoHTTPProvider):
    """Merges ``extra`` into the unary payload only; streams go out without it."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        if stream:
            request = request.model_copy(update={"extra": {}})
        return super().payload(request, stream=stream)


class EmbedDropsExtra(EchoHTTPProvider):
    """The embed payload is built by hand and forgets ``extra``."""

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        return super().handle_embed(request.model_copy(update={"extra": {}}))

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        return await super().ahandle_embed(request.model_copy(update={"extra": {}}))


class TemperatureNeverSent(EchoHTTPProvider):
    """Forgets ``temperature``: the server samples at its own default whatever the caller
    asked."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        body.pop("temperature", None)
        return body


class StreamDropsTopP(EchoHTTPProvider):
    """The streaming payload has no ``top_p``."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if stream:
            body.pop("top_p", None)
        return body


class WarmsUpEachCall(EchoHTTPProvider):
    """Sends a one-token request before each ``generate`` "to wake the endpoint": two
    requests per call, the first one unaudited."""

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        super().handle_generate(request.model_copy(update={"max_tokens": 1}))
        return super().handle_generate(request)


class BotoForwardsTenant(EchoBotoProvider):
    """Puts ``metadata.tenant`` into the body as a routing hint for the container."""

    def payload(self, request: GenerateRequest) -> dict[str, Any]:
        body = super().payload(request)
        if request.metadata.tenant:
            body["tenant"] = request.metadata.tenant
        return body


class ZeroTemperatureDropped(EchoHTTPProvider):
    """``if request.temperature:`` — a greedy 0 is never sent, so the server samples."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if not request.temperature:
            body.pop("temperature", None)
        return body


class SystemSentLast(EchoHTTPProvider):
    """Appends the system message after the conversation "so it is fresh in context"."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if "messages" in body:
            body["messages"] = sorted(body["messages"], key=lambda m: m["role"] == "system")
        return body


class AppendsToLastTurn(EchoHTTPProvider):
    """Adds an instruction of its own to the caller's last message."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if body.get("messages"):
            last = body["messages"][-1]
            body["messages"][-1] = {**last, "content": last["content"] + "\nAlways answer in English."}
        return body


class NormalisesNFKC(EchoHTTPProvider):
    """Runs the prompt through NFKC "to sanitise it": ligatures and full-width digits change."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        return _messages(
            super().payload(request, stream=stream),
            lambda m: {**m, "content": unicodedata.normalize("NFKC", m["content"])},
        )


class StreamExtraUnderParameters(EchoHTTPProvider):
    """The streaming path nests ``extra`` under ``parameters``; the unary one merges it at
    the top: one of the two places is wrong for the server."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        if not stream:
            return super().payload(request, stream=stream)
        body = super().payload(request.model_copy(update={"extra": {}}), stream=stream)
        body["parameters"] = dict(request.extra)
        return body


class TenantInQueryString(EchoHTTPProvider):
    """Sends ``metadata.tenant`` as a query parameter for the gateway's routing."""

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        params = {"tenant": request.metadata.tenant} if request.metadata.tenant else {}
        body = self.payload(request, stream=False)
        with mapped():
            response = self._client.post("/generate", json=body, params=params, timeout=self.read_timeout(request))
        if response.status_code >= 400:
            raise error_for(response)
        return self.response(response.json(), started)
