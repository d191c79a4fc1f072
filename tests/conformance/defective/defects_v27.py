"""Suite 2.7: a named ``tool_choice`` lost on the way out (dropped, sent as ``"required"``,
or dropped by the stream only), and correct plugins that send it in other shapes or refuse
it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from byom_sdk import GenerateRequest

from ._http import EchoHTTPProvider

__all__ = [
    "ForcesByOfferingOnlyTheNamedTool",
    "NamedToolChoiceAsRequired",
    "NamedToolChoiceDropped",
    "NamedToolChoiceInAnthropicShape",
    "RefusesNamedToolChoice",
    "StreamDropsToolChoice",
]


def _named(request: GenerateRequest) -> str | None:
    choice = request.tool_choice
    if isinstance(choice, Mapping):
        function = choice.get("function", choice)
        name = function.get("name") if isinstance(function, Mapping) else None
        return name if isinstance(name, str) else None
    return None


class NamedToolChoiceDropped(EchoHTTPProvider):
    """Passes "auto", "none" and "required" on, but a named choice (a dict) is left out."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if not isinstance(body.get("tool_choice"), str):
            body.pop("tool_choice", None)
        return body


class NamedToolChoiceAsRequired(EchoHTTPProvider):
    """Sends a named choice as "required": the model may call any offered tool."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if _named(request) is not None:
            body["tool_choice"] = "required"
        return body


class StreamDropsToolChoice(EchoHTTPProvider):
    """generate sends tool_choice; the streaming body builder forgets it."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        if stream:
            body.pop("tool_choice", None)
        return body


class RefusesNamedToolChoice(EchoHTTPProvider):
    """For an API that cannot force one tool: refuses a named choice before sending (correct)."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        if _named(request) is not None:
            from byom_sdk import BadRequest

            raise BadRequest("echo: this API cannot force one tool; tool_choice takes 'auto' or 'none'")
        return super().payload(request, stream=stream)


class ForcesByOfferingOnlyTheNamedTool(EchoHTTPProvider):
    """Sends only the named tool, with "required": the choice is in what is offered (correct)."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        name = _named(request)
        if name is not None:
            body["tools"] = [t for t in body["tools"] if t.get("function", t).get("name") == name]
            body["tool_choice"] = "required"
        return body


class NamedToolChoiceInAnthropicShape(EchoHTTPProvider):
    """Sends a named choice as Anthropic's {"type": "tool", "name": N} (correct)."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        name = _named(request)
        if name is not None:
            body["tool_choice"] = {"type": "tool", "name": name}
        return body
