"""Checks of streamed generation: events, parity, limits, concurrency, pacing."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ..._provider import Provider
from ..._types import FinishEvent, GenerateRequest, TextDelta, Usage, UsageEvent
from ._core import check, plugin_label, require_capability
from ._generate import DECOY_STOP, pick_stop, stop_case_problems
from ._subject import ModelSubject, StreamResult, collect, collect_async

__all__ = ["StreamChecks", "spanning_stop"]

_EXACT = ("server", "tokenizer")
_TAIL = re.compile(r"\S+\s*$")
_HEAD = re.compile(r"^\s*\S+")


def spanning_stop(deltas: list[str]) -> tuple[str, str] | None:
    """A stop string made of the last word of one delta and the first word of the next —
    it spans a delta boundary — and the text expected before it; ``None`` when the stream
    has no such pair (one delta, or whitespace-only ones)."""
    text = "".join(deltas)
    bounds = []
    offset = 0
    for delta in deltas[:-1]:
        offset += len(delta)
        bounds.append(offset)
    middle = len(bounds) // 2
    for index in [*range(middle, len(bounds)), *range(middle - 1, -1, -1)]:
        tail, head = _TAIL.search(deltas[index]), _HEAD.search(deltas[index + 1])
        if tail is None or head is None:
            continue
        stop = tail.group() + head.group()
        cut = text.find(stop)
        if cut > 0 and text[:cut].strip() and any(cut < bound < cut + len(stop) for bound in bounds):
            return stop, text[:cut]
    return None


class StreamChecks(ModelSubject):
    """``stream``: event shape, parity with ``generate``, usage, max_tokens, stop."""

    def _stream(self, model: Provider, **fields: Any) -> StreamResult:
        require_capability(model, "stream")
        return collect(model.stream(self.reference(model, **fields)))

    @check("stream.events")
    def test_stream_events(self, byom_model: Provider) -> None:
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
    def test_stream_matches_generate(self, byom_model: Provider) -> None:
        """Concatenated deltas equal the non-streamed text of the same greedy request, for
        the reference prompt and for ``unicode_prompt`` (accents, CJK, an emoji).

        The finish reason is the same too. Fix: do not strip, re-space or re-decode
        deltas differently from the non-streamed path (decode token ids incrementally,
        holding back incomplete UTF-8 / word pieces, never ``errors="replace"`` per token).
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        for prompt in (self.prompts[0], self.unicode_prompt):
            result = self._stream(byom_model, prompt=prompt)
            reply = byom_model.generate(self.reference(byom_model, prompt=prompt))
            assert result.text == reply.text, f"stream text {result.text!r} != generate text {reply.text!r}"
            assert result.finish_reason == reply.finish_reason, (
                f"stream finish_reason {result.finish_reason!r} != generate {reply.finish_reason!r}"
            )

    @check("stream.usage")
    def test_stream_usage(self, byom_model: Provider) -> None:
        """The stream reports usage (``UsageEvent`` or ``FinishEvent.usage``); its final usage
        equals generate's, and the usages it reports agree with it.

        The final usage is the last one reported. Running counts before it (vLLM's
        ``continuous_usage_stats``, a prompt-only count when the stream opens) are fine as
        long as they never decrease and the last ``UsageEvent`` equals ``FinishEvent.usage``
        when both are sent. Fix: request usage from the provider's stream (e.g. OpenAI
        ``stream_options.include_usage``) or count with the tokenizer, attach it to the
        final event, and build the ``UsageEvent`` and ``FinishEvent.usage`` from the same
        counts.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        result = self._stream(byom_model)
        assert result.usage is not None, "stream reported no usage (UsageEvent or FinishEvent.usage)"
        label = plugin_label(byom_model)
        reported = [
            (isinstance(event, FinishEvent), (usage.input_tokens, usage.output_tokens))
            for event in result.events
            if isinstance(event, (UsageEvent, FinishEvent)) and (usage := event.usage) is not None
        ]
        counts = [count for _, count in reported]
        fell = [(a, b) for a, b in itertools.pairwise(counts) if b[0] < a[0] or b[1] < a[1]]
        assert not fell, (
            f"{label}: the stream's usage counts go down ({fell[0][0]} then {fell[0][1]}; all: {counts}): running "
            "counts only grow, and the last one is the final usage"
        )
        events = [count for final, count in reported if not final]
        finals = [count for final, count in reported if final]
        if events and finals:
            assert events[-1] == finals[-1], (
                f"{label}: the last UsageEvent counts {events[-1]}, FinishEvent.usage {finals[-1]}: they must agree"
            )
        reply = byom_model.generate(self.reference(byom_model))
        if result.usage.source in _EXACT and reply.usage.source in _EXACT:
            assert (result.usage.input_tokens, result.usage.output_tokens) == (
                reply.usage.input_tokens,
                reply.usage.output_tokens,
            ), f"{label}: stream usage {result.usage!r} != generate usage {reply.usage!r}"

    @check("stream.max_tokens")
    def test_stream_max_tokens(self, byom_model: Provider) -> None:
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
    def test_stream_stop(self, byom_model: Provider) -> None:
        """Stop strings are honoured in streams, even when split across deltas.

        Tried with a word from the middle of the reference stream, with a stop string made
        of the end of one delta and the start of the next, and with two stop strings, the
        one that matches second (``BadRequest`` for a list is accepted). The streamed text ends
        before the stop string, finish_reason is "stop", and exact usage counts only what
        was generated up to it. Fix: hold back a possible stop-string prefix before
        yielding a delta and search the text held back plus the new delta (never each
        delta on its own); never yield the stop string itself; send every stop string.
        """
        require_capability(byom_model, "stop_sequences")
        full = self._stream(byom_model)
        picked = pick_stop(full.text)
        if picked is None:
            pytest.skip(f"{plugin_label(byom_model)}: reference stream {full.text!r} too short for a stop string")
        cases = [picked]
        deltas = [event.text for event in full.events if isinstance(event, TextDelta)]
        spanning = spanning_stop(deltas)
        if spanning is not None and spanning[0] != picked[0]:
            cases.append(spanning)

        def answer(stops: tuple[str, ...]) -> tuple[str, str | None, Usage | None]:
            result = self._stream(byom_model, stop=stops)
            return result.text, result.finish_reason, result.usage

        problems = stop_case_problems(self, byom_model, (full.text, full.usage), cases, answer)
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems)

    @check("stream.stop_unmatched")
    def test_stream_stop_unmatched(self, byom_model: Provider) -> None:
        """A stop string that begins with the end of the answer but never completes cuts
        nothing: the text streamed (``stream`` and ``astream``) equals the stream without
        it, with the same finish reason.

        The stop string is the answer's last word (and what follows it) plus text the
        answer never contains. A provider that holds back a possible stop-string prefix
        before yielding a delta must flush what it held when the stream ends; one that
        forgets loses the answer's end exactly when it looks like the start of a stop
        string. Fix: when the stream ends without a match, yield the held-back text before
        the ``FinishEvent``.
        """
        require_capability(byom_model, "stop_sequences")
        full = self._stream(byom_model)
        tail = _TAIL.search(full.text)
        if tail is None:
            pytest.skip(f"{plugin_label(byom_model)}: reference stream {full.text!r} has no word to end on")
        stop = tail.group() + DECOY_STOP
        request = self.reference(byom_model, stop=(stop,))
        runs = {
            "stream": collect(byom_model.stream(request)),
            "astream": asyncio.run(collect_async(byom_model.astream(request))),
        }
        problems = [
            f"{name} gave {result.text!r}/{result.finish_reason}, without the stop string "
            f"{full.text!r}/{full.finish_reason}"
            for name, result in runs.items()
            if (result.text, result.finish_reason) != (full.text, full.finish_reason)
        ]
        assert not problems, f"{plugin_label(byom_model)}: stop={stop!r} never matches, yet " + "; ".join(problems)

    @check("stream.early_close")
    def test_stream_early_close(self, byom_model: Provider) -> None:
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

    def _concurrent_requests(self, model: Provider) -> list[tuple[GenerateRequest, StreamResult]]:
        """Each prompt, alone and (when stop strings are declared) with a stop string taken
        from its own answer, paired with the stream it gives when nothing else runs."""
        caps = model.info.capabilities
        pairs: list[tuple[GenerateRequest, StreamResult]] = []
        for prompt in self.prompts:
            request = self.reference(model, prompt=prompt)
            alone = collect(model.stream(request))
            pairs.append((request, alone))
            picked = pick_stop(alone.text) if caps.stop_sequences else None
            if picked is not None:
                stopped = self.reference(model, prompt=prompt, stop=(picked[0],))
                pairs.append((stopped, collect(model.stream(stopped))))
        return pairs

    @check("stream.concurrent")
    def test_stream_concurrent(self, byom_model: Provider) -> None:
        """Streams open at the same time never mix, with and without stop strings.

        Every prompt (and, with ``stop_sequences``, the same prompt with a stop string) is
        streamed alone, then all together: interleaved event by event in one thread, from
        several threads, and as asyncio streams interleaved and gathered. Each must give
        the text and finish reason it gives alone. Fix: keep a stream's state (decoder,
        stop-string hold-back buffer, response, usage) in the generator's locals, never on
        ``self``.
        """
        require_capability(byom_model, "stream")
        pairs = self._concurrent_requests(byom_model)
        requests = [request for request, _ in pairs]
        expected = [(alone.text, alone.finish_reason) for _, alone in pairs]

        streams = [iter(byom_model.stream(request)) for request in requests]
        interleaved = [StreamResult() for _ in streams]
        active = list(range(len(streams)))
        while active:
            for index in list(active):
                event = next(streams[index], None)
                if event is None:
                    active.remove(index)
                else:
                    interleaved[index].add(event)

        with ThreadPoolExecutor(max_workers=min(8, len(requests))) as pool:
            threaded = list(pool.map(lambda request: collect(byom_model.stream(request)), requests * 2))

        async def interleave_async() -> list[StreamResult]:
            astreams = [byom_model.astream(request) for request in requests]
            results = [StreamResult() for _ in astreams]
            live = list(range(len(astreams)))
            while live:
                for index in list(live):
                    try:
                        results[index].add(await astreams[index].__anext__())
                    except StopAsyncIteration:
                        live.remove(index)
            return results

        async def gathered() -> list[StreamResult]:
            return list(await asyncio.gather(*(collect_async(byom_model.astream(r)) for r in requests * 2)))

        runs = {
            "interleaved in one thread": interleaved,
            "from threads": threaded,
            "asyncio, interleaved": asyncio.run(interleave_async()),
            "asyncio, gathered": asyncio.run(gathered()),
        }
        mixed = []
        for how, results in runs.items():
            for index, result in enumerate(results):
                want = expected[index % len(expected)]
                if (result.text, result.finish_reason) != want:
                    number = index % len(requests)
                    stop = list(requests[number].stop)
                    mixed.append(f"{how}, stream #{number} (stop={stop}): {result.text!r} != alone {want[0]!r}")
        assert not mixed, f"{plugin_label(byom_model)} mixed up concurrent streams: " + "; ".join(mixed[:4])

    @staticmethod
    def _first_and_total(model: Provider, request: GenerateRequest) -> tuple[float, float, int]:
        started = time.perf_counter()
        first: float | None = None
        count = 0
        for _event in model.stream(request):
            count += 1
            if first is None:
                first = time.perf_counter() - started
        total = time.perf_counter() - started
        return (total if first is None else first), total, count

    @staticmethod
    async def _afirst_and_total(model: Provider, request: GenerateRequest) -> tuple[float, float, int]:
        started = time.perf_counter()
        first: float | None = None
        count = 0
        async for _event in model.astream(request):
            count += 1
            if first is None:
                first = time.perf_counter() - started
        total = time.perf_counter() - started
        return (total if first is None else first), total, count

    def _paced(self, model: Provider) -> dict[str, tuple[float, float, int]]:
        """(first event, whole stream, events) in seconds for ``stream`` and ``astream``."""
        request = self.reference(model)
        return {
            "stream": self._first_and_total(model, request),
            "astream": asyncio.run(self._afirst_and_total(model, request)),
        }

    @check("stream.incremental")
    def test_stream_incremental(self, byom_model: Provider) -> None:
        """A stream hands each event on as it arrives: the first event comes before the end,
        on ``stream`` and on ``astream``.

        Timed on the slow scenario (``make_slow_model``, which stalls after its first
        event), or on the model itself when its ``stream`` lasts long enough to tell (0.1 s;
        ``astream`` is then judged when it lasts that long too).
        The first event must arrive before 70 % of the stream's duration. Fix: iterate over
        the response as it arrives (``iter_lines`` / ``aiter_lines``, the event stream, the
        token loop) and yield each delta at once; never read the whole body first and split
        it afterwards — nor drain the sync stream in a worker thread and replay it on
        ``astream``.
        """
        require_capability(byom_model, "stream")
        slow = self.make_slow_model()
        source = "the slow scenario"
        if slow is not None:
            try:
                timings = self._paced(slow)
            finally:
                slow.close()
        else:
            source = "the model"
            timings = self._paced(byom_model)
            if timings["stream"][1] < 0.1:
                pytest.skip(
                    f"{plugin_label(byom_model)}: its stream lasts under 100 ms, too fast to tell "
                    f"streaming from buffering; offer {type(self).__name__}.make_slow_model()"
                )
            if timings["astream"][1] < 0.1:
                del timings["astream"]  # too fast to tell on its own; the stream was judged
        problems = []
        for name, (first, total, count) in timings.items():
            if count <= 1:
                problems.append(f"{name} on {source} gave {count} event(s); a stream has text, then a FinishEvent")
            elif first > 0.7 * total:
                problems.append(
                    f"{name} on {source}: the first of {count} events arrived after {first:.2f} s of a "
                    f"{total:.2f} s stream: the stream is buffered, not passed on as it arrives"
                )
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems)
