"""Constants and helpers shared by the byom serve tests (imported by name: the tests run
with --import-mode=importlib, so conftest.py puts this folder on sys.path)."""

from __future__ import annotations

from typing import Any

import byom_sdk

#: every Client the tests build talks to 127.0.0.1 and keeps its audit in memory.
POLICY: dict[str, Any] = {"allow_loopback": True, "audit": {"sink": "memory"}}
ACME_KEY = "sk-acme-test-key-0001"
GLOBEX_KEY = "sk-globex-test-key-0002"
KEYS = [
    {"name": "acme-app", "key": ACME_KEY, "tenant": "acme", "user": "einstein"},
    {"name": "globex-app", "key": GLOBEX_KEY, "tenant": "globex", "user": "ops", "models": ["bot"]},
]


def audited_calls(client: byom_sdk.Client) -> list[dict[str, Any]]:
    """One dict per call: its intent and outcome records merged (outcome wins)."""
    merged: dict[str, dict[str, Any]] = {}
    for record in client.trust.sink.records:  # type: ignore[attr-defined]
        merged.setdefault(record["call_id"], {}).update(record)
    return list(merged.values())


class PacedModel(byom_sdk.Model):
    """Async-native and slow on purpose: ``pause`` seconds before answering and between
    stream pieces, so tests can disconnect, time out or shut down mid-call. ``fail_after``
    makes a stream raise ``ModelError`` after that many pieces."""

    def __init__(self, words: str = "one two three four", *, pause: float = 0.0, fail_after: int | None = None):
        self.words = words.split()
        self.pause = pause
        self.fail_after = fail_after
        self.started = 0
        self.finished = 0
        self._info = byom_sdk.ModelInfo(
            id="paced",
            provider="paced",
            capabilities=byom_sdk.Capabilities(generate=True, chat=True, stream=True),
            boundary=byom_sdk.Boundary(provider="paced", location_kind="process", retention="none"),
        )

    @property
    def info(self) -> byom_sdk.ModelInfo:
        return self._info

    def _usage(self) -> byom_sdk.Usage:
        return byom_sdk.Usage(input_tokens=1, output_tokens=len(self.words), source="estimate")

    async def _agenerate(self, request: byom_sdk.GenerateRequest) -> byom_sdk.GenerateResponse:
        import asyncio

        self.started += 1
        await asyncio.sleep(self.pause)
        self.finished += 1
        text = " ".join(self.words)
        return byom_sdk.GenerateResponse(text=text, finish_reason="stop", usage=self._usage(), model="paced")

    async def _astream(self, request: byom_sdk.GenerateRequest) -> Any:
        import asyncio

        self.started += 1
        for index, word in enumerate(self.words):
            if self.fail_after is not None and index == self.fail_after:
                raise byom_sdk.ModelError("the paced model broke mid-stream", provider="paced")
            await asyncio.sleep(self.pause)
            yield byom_sdk.TextDelta(text=word if index == 0 else " " + word)
        self.finished += 1
        yield byom_sdk.FinishEvent(finish_reason="stop", usage=self._usage())
