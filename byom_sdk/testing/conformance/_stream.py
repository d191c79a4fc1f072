"""Checks of streamed generation and of the async twins."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ..._model import Model
from ..._types import FinishEvent, TextDelta
from ._core import check, plugin_label, require_capability
from ._generate import pick_stop
from ._subject import ModelSubject, StreamResult, collect, collect_async, vectors_close

__all__ = ["AsyncChecks", "StreamChecks"]

_EXACT = ("server", "tokenizer")


class StreamChecks(ModelSubject):
    """``stream``: event shape, parity with ``generate``, usage, max_tokens, stop."""

    def _stream(self, model: Model, **fields: Any) -> StreamResult:
        require_capability(model, "stream")
        return collect(model.stream(self.reference(model, **fields)))

    @check("stream.events")
    def test_stream_events(self, byom_model: Model) -> None:
        """A stream yields only contract events and ends with exactly one ``FinishEvent``.

        Fix: yield ``TextDelta`` / ``ToolCallEvent`` / ``UsageEvent`` objects and exactly
        one ``FinishEvent`` as the last event, also when the provider's stream ends
        without a final chunk (synthesise it).
        """
        result = self._stream(byom_model)
        assert not result.foreign, f"stream yielded non-contract events: {result.foreign[:3]!r}"
        assert len(result.finishes) == 1, f"stream yielded {len(result.finishes)} FinishEvents, expected 1"
        assert isinstance(result.events[-1], FinishEvent), (
            f"last event is {type(result.events[-1]).__name__}, expected FinishEvent"
        )
        assert any(isinstance(e, TextDelta) and e.text for e in result.events), "stream yielded no text"

    @check("stream.matches_generate")
    def test_stream_matches_generate(self, byom_model: Model) -> None:
        """Concatenated deltas equal the non-streamed text of the same greedy request.

        The finish reason is the same too. Fix: do not strip, re-space or re-decode
        deltas differently from the non-streamed path (decode token ids incrementally,
        holding back incomplete UTF-8 / word pieces).
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        result = self._stream(byom_model)
        reply = byom_model.generate(self.reference(byom_model))
        assert result.text == reply.text, f"stream text {result.text!r} != generate text {reply.text!r}"
        assert result.finish_reason == reply.finish_reason, (
            f"stream finish_reason {result.finish_reason!r} != generate {reply.finish_reason!r}"
        )

    @check("stream.usage")
    def test_stream_usage(self, byom_model: Model) -> None:
        """The stream reports usage (``UsageEvent`` or ``FinishEvent.usage``) equal to generate's.

        Fix: request usage from the provider's stream (e.g. OpenAI
        ``stream_options.include_usage``) or count with the tokenizer, and attach it to
        the final event.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        result = self._stream(byom_model)
        assert result.usage is not None, "stream reported no usage (UsageEvent or FinishEvent.usage)"
        reply = byom_model.generate(self.reference(byom_model))
        if result.usage.source in _EXACT and reply.usage.source in _EXACT:
            assert (result.usage.input_tokens, result.usage.output_tokens) == (
                reply.usage.input_tokens,
                reply.usage.output_tokens,
            ), f"stream usage {result.usage!r} != generate usage {reply.usage!r}"

    @check("stream.max_tokens")
    def test_stream_max_tokens(self, byom_model: Model) -> None:
        """A stream cut by ``max_tokens`` stops there and finishes with "length".

        Fix: pass ``max_tokens`` on the streaming path too.
        """
        full = self._stream(byom_model)
        limit = max(1, min(4, self.max_tokens // 4))
        if full.usage is not None and full.usage.output_tokens <= limit:
            pytest.skip(f"{plugin_label(byom_model)}: reference stream too short to observe max_tokens={limit}")
        cut = self._stream(byom_model, max_tokens=limit)
        assert cut.finish_reason == "length", f"cut stream finished with {cut.finish_reason!r}, expected 'length'"
        assert len(cut.text.strip()) < len(full.text.strip()), f"max_tokens={limit} did not shorten the stream"
        if cut.usage is not None and cut.usage.source in _EXACT:
            assert cut.usage.output_tokens <= limit, f"stream usage.output_tokens={cut.usage.output_tokens} > {limit}"

    @check("stream.stop")
    def test_stream_stop(self, byom_model: Model) -> None:
        """Stop strings are honoured in streams, even when split across deltas.

        Fix: hold back a possible stop-string prefix before yielding a delta, and never
        yield the stop string itself.
        """
        require_capability(byom_model, "stop_sequences")
        full = self._stream(byom_model)
        picked = pick_stop(full.text)
        if picked is None:
            pytest.skip(f"{plugin_label(byom_model)}: reference stream {full.text!r} too short for a stop string")
        stop, before = picked
        result = self._stream(byom_model, stop=(stop,))
        assert stop not in result.text, f"stop string {stop!r} present in streamed text {result.text!r}"
        assert result.text.rstrip() == before.rstrip(), f"with stop={stop!r} expected {before!r}, got {result.text!r}"
        assert result.finish_reason == "stop", f"finish_reason {result.finish_reason!r} after a stop string"

    @check("stream.early_close")
    def test_stream_early_close(self, byom_model: Model) -> None:
        """Abandoning a stream after its first event leaves the model usable.

        Fix: release the HTTP response / generation state in a ``finally`` of the
        generator, so closing it early frees the connection.
        """
        require_capability(byom_model, "stream")
        events = byom_model.stream(self.reference(byom_model))
        next(iter(events))
        close = getattr(events, "close", None)
        if close is not None:
            close()
        reply = byom_model.generate(self.reference(byom_model))
        assert reply.text, "generate after an abandoned stream returned no text"


class AsyncChecks(ModelSubject):
    """The async twins give the same answers as the sync calls, from any event loop."""

    @check("async.generate")
    def test_async_generate(self, byom_model: Model) -> None:
        """``agenerate`` equals ``generate`` for a greedy request, from two event loops.

        Each call runs in its own ``asyncio.run`` loop, as apps that call from different
        loops do. Fix: do not cache loop-bound clients across loops (keep one per loop),
        and map errors identically on both sides.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        request = self.reference(byom_model)
        reply = byom_model.generate(request)
        for _ in range(2):
            areply = asyncio.run(byom_model.agenerate(request))
            assert (areply.text, areply.finish_reason) == (reply.text, reply.finish_reason), (
                f"agenerate {areply.text!r}/{areply.finish_reason} != generate {reply.text!r}/{reply.finish_reason}"
            )
            assert (areply.usage.input_tokens, areply.usage.output_tokens) == (
                reply.usage.input_tokens,
                reply.usage.output_tokens,
            ), f"agenerate usage {areply.usage!r} != generate usage {reply.usage!r}"

    @check("async.stream")
    def test_async_stream(self, byom_model: Model) -> None:
        """``astream`` yields the same text and finish as ``stream``, ending in one FinishEvent.

        Fix: implement ``_astream`` with the same event mapping as ``_stream``.
        """
        require_capability(byom_model, "stream")
        request = self.reference(byom_model)
        sync = collect(byom_model.stream(request))
        for _ in range(2):
            result = asyncio.run(collect_async(byom_model.astream(request)))
            assert result.text == sync.text, f"astream text {result.text!r} != stream text {sync.text!r}"
            assert len(result.finishes) == 1 and isinstance(result.events[-1], FinishEvent), (
                "astream must end with exactly one FinishEvent"
            )
            assert result.finish_reason == sync.finish_reason

    @check("async.embed")
    def test_async_embed(self, byom_model: Model) -> None:
        """``aembed`` returns the same vectors as ``embed``.

        Fix: share the request/response mapping between ``_embed`` and ``_aembed``.
        """
        require_capability(byom_model, "embed")
        texts = list(self.embed_texts)
        sync = byom_model.embed(texts)
        for _ in range(2):
            result = asyncio.run(byom_model.aembed(texts))
            assert vectors_close(result.vectors, sync.vectors, 1e-4), "aembed vectors differ from embed vectors"
