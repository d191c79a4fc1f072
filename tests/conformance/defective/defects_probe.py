"""Defects a second independent probe threw at suite 2.1 that it then missed: usages that
disagree within one stream, an ``info`` that changes after the first call, characters passed
off as an estimate, and a seed honoured by ``generate`` only."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

from byom_sdk import FinishEvent, GenerateRequest, GenerateResponse, Usage
from byom_sdk.testing import ScriptedModel

from ._http import EchoHTTPProvider

__all__ = [
    "EstimateCountsCharacters",
    "InfoIdResolvedAfterFirstCall",
    "SeedIgnoredInStream",
    "ToolChoiceNeverSent",
    "UsageEventDisagreesWithFinish",
]


class UsageEventDisagreesWithFinish(EchoHTTPProvider):
    """The ``UsageEvent`` carries the server's counts, ``FinishEvent.usage`` another one."""

    def events(self, line: dict[str, Any]) -> Iterator[Any]:
        for event in super().events(line):
            if isinstance(event, FinishEvent) and event.usage is not None:
                event = FinishEvent(
                    finish_reason=event.finish_reason,
                    usage=Usage(input_tokens=event.usage.input_tokens + 7, output_tokens=1, source="server"),
                )
            yield event


class InfoIdResolvedAfterFirstCall(EchoHTTPProvider):
    """Replaces ``info`` with the server's resolved model id after the first answer."""

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        response = super().handle_generate(request)
        self._info = self._info.model_copy(update={"id": "echo-2024-06-01"})
        return response


class EstimateCountsCharacters(EchoHTTPProvider):
    """Reports characters as tokens, labelled ``source="estimate"`` (four times too many)."""

    def usage(self, data: dict[str, Any]) -> Usage:
        text = str(data.get("text") or data.get("delta") or "")
        counts = data["usage"]
        output = len(text) or counts["output_tokens"] * 5
        return Usage(input_tokens=counts["input_tokens"] * 5, output_tokens=output, source="estimate")


class SeedIgnoredInStream(ScriptedModel):
    """Seeds its sampler on the unary path only: a seeded stream answers differently."""

    _streaming = threading.local()

    def _next_reply(self, request: GenerateRequest) -> str:
        reply = str(super()._next_reply(request))
        if request.temperature:
            seed = None if getattr(self._streaming, "on", False) else request.seed
            words = reply.split(" ")
            (random.Random(seed) if seed is not None else random.Random()).shuffle(words)
            reply = " ".join(words)
        return reply

    def _stream(self, request: GenerateRequest) -> Iterator[Any]:
        self._streaming.on = True
        try:
            events = super()._stream(request)
            first = next(events)
        finally:
            self._streaming.on = False
        yield first
        yield from events


class ToolChoiceNeverSent(EchoHTTPProvider):
    """Sends the tools but drops ``tool_choice``: ``"none"`` still gets a tool call."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        body.pop("tool_choice", None)
        return body
