"""Checks of concurrent use: each caller gets its own answer, and concurrent calls overlap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from ..._provider import Provider
from ..._types import EmbedResponse, GenerateResponse
from ._core import check, plugin_label
from ._subject import ModelSubject

__all__ = ["ConcurrencyChecks"]

#: how many callers the overlap checks run at once.
_CALLERS = 4


def _generated(reply: GenerateResponse) -> object:
    usage = reply.usage
    return (reply.text, reply.finish_reason, (usage.input_tokens, usage.output_tokens, usage.source))


def _embedded(response: EmbedResponse) -> object:
    usage = response.usage
    counted = (usage.input_tokens, usage.source) if usage is not None else None
    return (tuple(round(v, 4) for v in response.vectors[0]), counted)


def _serialised(alone: float, together: float, callers: int) -> bool:
    """Whether ``callers`` calls that took ``together`` seconds ran one after another:
    serialised calls take ``callers`` times as long as one; overlapping ones about one."""
    return together >= alone * (callers + 1) / 2


class ConcurrencyChecks(ModelSubject):
    """Concurrent callers each get their own, correct answer, at the same time."""

    rounds: int = 2

    def _long_prompt(self) -> str:
        """A prompt longer than every one of ``prompts``: concurrent prompts of different
        lengths show an input count that belongs to another caller."""
        return " ".join([*self.prompts, self.prompts[0]])

    def _jobs(self, model: Provider) -> list[tuple[str, object]]:
        caps = model.info.capabilities
        jobs: list[tuple[str, object]] = []
        if caps.generate or caps.chat:
            prompts = [*self.prompts, self._long_prompt()]
            jobs += [("generate", self.reference(model, prompt=p)) for p in prompts]
        if caps.embed:
            jobs += [("embed", [t]) for t in self.embed_texts]
        return jobs

    @staticmethod
    def _answer(model: Provider, kind: str, payload: object) -> object:
        if kind == "generate":
            return _generated(model.generate(payload))  # type: ignore[arg-type]
        return _embedded(model.embed(payload))  # type: ignore[arg-type]

    @staticmethod
    async def _aanswer(model: Provider, kind: str, payload: object) -> object:
        if kind == "generate":
            return _generated(await model.agenerate(payload))  # type: ignore[arg-type]
        return _embedded(await model.aembed(payload))  # type: ignore[arg-type]

    @staticmethod
    def _mixed(jobs: list[tuple[str, object]], expected: list[object], results: list[object]) -> list[str]:
        return [
            f"{kind} #{i % len(jobs)}: got {got!r}, alone {expected[i % len(jobs)]!r}"
            for i, ((kind, _), got) in enumerate(zip(jobs * (len(results) // len(jobs)), results, strict=True))
            if got != expected[i % len(jobs)]
        ]

    @check("concurrency.threads")
    def test_concurrency_threads(self, byom_model: Provider) -> None:
        """Calls from several threads at once each return the answer they return alone:
        text, finish reason and the whole usage (input and output tokens, source), for
        prompts of different lengths.

        Fix: keep per-call state (the request, the prompt's token count, the response) in
        locals, not on ``self``; guard shared sessions and tokenizers with a lock or use one
        per thread.
        """
        jobs = self._jobs(byom_model)
        expected = [self._answer(byom_model, kind, payload) for kind, payload in jobs]
        work = jobs * self.rounds
        with ThreadPoolExecutor(max_workers=min(8, len(work))) as pool:
            results = list(pool.map(lambda job: self._answer(byom_model, *job), work))
        mixed = self._mixed(jobs, expected, results)
        assert not mixed, f"{plugin_label(byom_model)} mixed up concurrent calls: " + "; ".join(mixed[:4])

    @check("concurrency.asyncio")
    def test_concurrency_asyncio(self, byom_model: Provider) -> None:
        """Concurrent asyncio tasks on one loop each return the answer they return alone:
        text, finish reason and the whole usage, for prompts of different lengths.

        Fix: no per-call state on ``self`` (a count kept there across an ``await`` belongs
        to whichever task set it last); one async client per event loop.
        """
        jobs = self._jobs(byom_model)
        expected = [self._answer(byom_model, kind, payload) for kind, payload in jobs]
        work = jobs * self.rounds

        async def run_all() -> list[object]:
            return list(await asyncio.gather(*(self._aanswer(byom_model, k, p) for k, p in work)))

        results = asyncio.run(run_all())
        mixed = self._mixed(jobs, expected, results)
        assert not mixed, f"{plugin_label(byom_model)} mixed up concurrent tasks: " + "; ".join(mixed[:4])

    @check("concurrency.parallel")
    def test_concurrency_parallel(self, byom_model: Provider) -> None:
        """Calls from several threads run at the same time: four ``generate`` calls to the
        slow scenario at once take about as long as one, not four times as long.

        A provider that holds one lock around the whole call makes every caller wait for
        all the others (and an async caller's worker threads with them). Measured twice
        before failing (a busy machine). Fix: hold a lock only around what is not
        thread-safe, for as short as possible — botocore and httpx clients are safe to
        share — or give each thread its own client.
        """
        caps = byom_model.info.capabilities
        if not (caps.generate or caps.chat):
            pytest.skip(f"{plugin_label(byom_model)}: capability 'generate' or 'chat' not declared")
        slow = self.make_slow_model()
        if slow is None:
            pytest.skip(f"{type(self).__name__}.make_slow_model offers no slow scenario")
        try:
            request = self.reference(slow)
            slow.generate(request)  # connections and clients warmed

            def timed(callers: int) -> float:
                with ThreadPoolExecutor(max_workers=callers) as pool:
                    started = time.perf_counter()
                    list(pool.map(lambda _: slow.generate(request), range(callers)))
                    return time.perf_counter() - started

            for _attempt in range(2):
                alone, together = timed(1), timed(_CALLERS)
                if not _serialised(alone, together, _CALLERS):
                    break
        finally:
            slow.close()
        assert not _serialised(alone, together, _CALLERS), (
            f"{plugin_label(byom_model)}: {_CALLERS} concurrent calls to the slow scenario took "
            f"{together:.2f} s, one alone {alone:.2f} s: the calls ran one after another"
        )

    @check("concurrency.async_parallel")
    def test_concurrency_async_parallel(self, byom_model: Provider) -> None:
        """Async calls run at the same time: four gathered ``agenerate`` calls (and, with
        ``embed`` declared, four ``aembed``) to the slow scenario take about as long as one,
        not four times as long.

        An async path that funnels every call through a private one-worker executor, a
        lock or a semaphore of one never blocks the loop, yet serves one caller at a time.
        An operation the slow scenario does not stall (answered in under half of
        ``slow_seconds``) is not judged; measured twice before failing (a busy machine).
        Fix: await the async client directly, or implement only the sync side and let the
        core's worker threads (one per concurrent call) run it.
        """
        caps = byom_model.info.capabilities
        if not (caps.generate or caps.chat or caps.embed):
            pytest.skip(f"{plugin_label(byom_model)}: capability 'generate', 'chat' or 'embed' not declared")
        slow = self.make_slow_model()
        if slow is None:
            pytest.skip(f"{type(self).__name__}.make_slow_model offers no slow scenario")
        calls: dict[str, Callable[[], Awaitable[object]]] = {}
        if caps.generate or caps.chat:
            request = self.reference(slow)
            calls["agenerate"] = lambda: slow.agenerate(request)
        if caps.embed:
            calls["aembed"] = lambda: slow.aembed(self.embed_request())
        problems: list[str] = []
        judged: list[str] = []
        try:
            for name, call in calls.items():
                outcome = self._async_overlap(call)
                if outcome is None:
                    continue
                judged.append(name)
                alone, together = outcome
                if _serialised(alone, together, _CALLERS):
                    problems.append(
                        f"{_CALLERS} gathered {name} calls took {together:.2f} s, one alone {alone:.2f} s: "
                        "they ran one after another"
                    )
        finally:
            slow.close()
        if not judged:
            pytest.skip(
                f"{plugin_label(byom_model)}: the slow scenario answered {', '.join(calls)} in under half of "
                f"slow_seconds={self.slow_seconds:g} s; nothing to time"
            )
        assert not problems, f"{plugin_label(byom_model)}, slow scenario: " + "; ".join(problems)

    def _async_overlap(self, call: Callable[[], Awaitable[object]]) -> tuple[float, float] | None:
        """(one call alone, ``_CALLERS`` gathered) in seconds, measured again once when the
        calls look serialised; ``None`` when the slow scenario does not stall the call."""

        async def timed(callers: int) -> float:
            started = time.perf_counter()
            await asyncio.gather(*(call() for _ in range(callers)))
            return time.perf_counter() - started

        asyncio.run(timed(1))  # clients, connections and worker threads warmed
        result = (0.0, 0.0)
        for _attempt in range(2):
            alone = asyncio.run(timed(1))
            if alone < self.slow_seconds / 2:
                return None
            result = (alone, asyncio.run(timed(_CALLERS)))
            if not _serialised(*result, _CALLERS):
                break
        return result
