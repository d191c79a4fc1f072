"""Checks of the async twins: parity with sync, the event loop, and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ..._provider import Provider
from ..._types import FinishEvent, GenerateRequest
from ._core import check, plugin_label, require_capability
from ._generate import pick_stop
from ._subject import ModelSubject, collect, collect_async, vectors_close

__all__ = ["AsyncChecks"]

_TICK = 0.005


class AsyncChecks(ModelSubject):
    """The async twins give the same answers as the sync calls, from any event loop."""

    def _parity_requests(self, model: Provider, text: str) -> list[tuple[str, GenerateRequest]]:
        """The reference request, the same cut at a short ``max_tokens`` and (declared) with
        a stop string taken from ``text``, its answer."""
        limit = max(1, min(4, self.max_tokens // 4))
        requests = [
            ("reference", self.reference(model)),
            (f"max_tokens={limit}", self.reference(model, max_tokens=limit)),
        ]
        picked = pick_stop(text) if model.info.capabilities.stop_sequences else None
        if picked is not None:
            requests.append((f"stop={picked[0]!r}", self.reference(model, stop=(picked[0],))))
        return requests

    @check("async.generate")
    def test_async_generate(self, byom_model: Provider) -> None:
        """``agenerate`` equals ``generate`` for a greedy request, from two event loops, and
        for the same request cut at a short ``max_tokens`` or stopped by a stop string.

        Each call runs in its own ``asyncio.run`` loop, as apps that call from different
        loops do. Fix: do not cache loop-bound clients across loops (keep one per loop),
        build the async payload with the same code as the sync one (``max_tokens``,
        ``stop``...), and map errors identically on both sides.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        reference = byom_model.generate(self.reference(byom_model))
        problems: list[str] = []
        for what, request in self._parity_requests(byom_model, reference.text):
            reply = byom_model.generate(request)
            for _ in range(2 if what == "reference" else 1):
                areply = asyncio.run(byom_model.agenerate(request))
                if (areply.text, areply.finish_reason) != (reply.text, reply.finish_reason):
                    problems.append(
                        f"{what}: agenerate {areply.text!r}/{areply.finish_reason} != "
                        f"generate {reply.text!r}/{reply.finish_reason}"
                    )
                elif (areply.usage.input_tokens, areply.usage.output_tokens) != (
                    reply.usage.input_tokens,
                    reply.usage.output_tokens,
                ):
                    problems.append(f"{what}: agenerate usage {areply.usage!r} != generate usage {reply.usage!r}")
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems[:4])

    @check("async.stream")
    def test_async_stream(self, byom_model: Provider) -> None:
        """``astream`` yields the same text and finish as ``stream``, ending in one
        FinishEvent — for the reference request, cut at a short ``max_tokens`` and stopped
        by a stop string.

        Fix: implement ``ahandle_stream`` with the same payload and event mapping as
        ``handle_stream``.
        """
        require_capability(byom_model, "stream")
        reference = collect(byom_model.stream(self.reference(byom_model)))
        problems: list[str] = []
        for what, request in self._parity_requests(byom_model, reference.text):
            sync = collect(byom_model.stream(request))
            for _ in range(2 if what == "reference" else 1):
                result = asyncio.run(collect_async(byom_model.astream(request)))
                if not (len(result.finishes) == 1 and isinstance(result.events[-1], FinishEvent)):
                    problems.append(f"{what}: astream must end with exactly one FinishEvent")
                elif (result.text, result.finish_reason) != (sync.text, sync.finish_reason):
                    problems.append(
                        f"{what}: astream {result.text!r}/{result.finish_reason} != "
                        f"stream {sync.text!r}/{sync.finish_reason}"
                    )
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems[:4])

    @check("async.embed")
    def test_async_embed(self, byom_model: Provider) -> None:
        """``aembed`` returns the same vectors as ``embed``.

        Fix: share the request/response mapping between ``_embed`` and ``_aembed``.
        """
        require_capability(byom_model, "embed")
        texts = list(self.embed_texts)
        sync = byom_model.embed(texts)
        for _ in range(2):
            result = asyncio.run(byom_model.aembed(texts))
            assert vectors_close(result.vectors, sync.vectors, 1e-4), "aembed vectors differ from embed vectors"

    def _async_calls(self, model: Provider) -> list[Callable[[], Awaitable[object]]]:
        caps = model.info.capabilities
        calls: list[Callable[[], Awaitable[object]]] = []
        if caps.generate or caps.chat:
            calls.append(lambda: model.agenerate(self.reference(model)))
            calls.append(lambda: model.agenerate(self.reference(model, prompt=self.prompts[1])))
            if caps.stream:
                calls.append(lambda: collect_async(model.astream(self.reference(model))))
        if caps.embed:
            calls.append(lambda: model.aembed(self.embed_request()))
        return calls

    async def _loop_lag(self, model: Provider, *, warm_up: bool) -> float:
        """The longest stall of this event loop while the model's async calls run."""
        calls = self._async_calls(model)
        if warm_up:
            # Outside the measurement: lazy imports and client construction on first use
            # are a one-off cost, not a loop blocked per call.
            await asyncio.gather(*(call() for call in calls))
        loop = asyncio.get_running_loop()
        worst = 0.0
        running = True

        async def ticker() -> None:
            nonlocal worst
            while running:
                before = loop.time()
                await asyncio.sleep(_TICK)
                worst = max(worst, loop.time() - before - _TICK)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(_TICK * 2)
        try:
            await asyncio.gather(*(call() for call in calls))
        finally:
            running = False
            await task
        return worst

    def _worst_lag(self, model: Provider, *, warm_up: bool) -> float:
        """The loop's lag, measured again once when over the limit: a blocking provider
        stalls the loop every time, a busy machine only now and then."""
        lag = asyncio.run(self._loop_lag(model, warm_up=warm_up))
        if lag > self.max_loop_lag:
            lag = min(lag, asyncio.run(self._loop_lag(model, warm_up=False)))
        return lag

    @check("async.event_loop")
    def test_async_event_loop(self, byom_model: Provider) -> None:
        """Async calls never stall the event loop (measured: a ticker's lag stays under
        ``max_loop_lag``), on the model and on the slow scenario when offered.

        Two ``agenerate``, an ``astream`` and an ``aembed`` (as declared) run together while
        a task ticks every 5 ms. Fix: inside ``async def`` await the async client; never call
        a sync client, ``time.sleep`` or other blocking I/O there — implement only the sync
        side and let the core run it in worker threads instead.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat", "embed"))
        problems = []
        lag = self._worst_lag(byom_model, warm_up=True)
        if lag > self.max_loop_lag:
            problems.append(f"the event loop stalled {lag:.2f} s during async calls")
        slow = self.make_slow_model()
        if slow is not None:
            try:
                lag = self._worst_lag(slow, warm_up=False)
            finally:
                slow.close()
            if lag > self.max_loop_lag:
                problems.append(f"the event loop stalled {lag:.2f} s during async calls to the slow scenario")
        assert not problems, (
            f"{plugin_label(byom_model)}: " + "; ".join(problems) + f" (max_loop_lag={self.max_loop_lag} s)"
        )

    @check("async.stream_cancel")
    def test_async_stream_cancel(self, byom_model: Provider) -> None:
        """Cancelling the task consuming an ``astream`` cancels it: the task ends cancelled,
        promptly, leaves no asyncio task of the provider's running, and the model still
        answers afterwards.

        The consumer is cancelled after the first event, while it waits for the next (on
        the slow scenario when offered, which stalls there: a stream that ends before the
        consumer can be cancelled fails there, and skips on a model without one). For a
        sync-only provider this exercises the core's thread bridge and the provider's
        generator cleanup. Fix:
        never catch ``asyncio.CancelledError`` in ``ahandle_stream`` (or catch it only to
        clean up and re-raise); release the response in ``finally``; a background producer
        task feeding the stream is cancelled in that ``finally`` too; hand each event on
        as it arrives, never after reading the whole stream.
        """
        require_capability(byom_model, "stream")
        # The slow scenario stalls after its first event, so the cancellation lands inside
        # the provider's own await rather than between two events already received.
        slow = self.make_slow_model()
        try:
            outcome = asyncio.run(self._cancel_scenario(slow or byom_model))
        finally:
            if slow is not None:
                slow.close()
        if outcome is None and slow is None:
            pytest.skip(f"{plugin_label(byom_model)}: the stream ended before the consumer could be cancelled")
        assert outcome is not None, (
            f"{plugin_label(byom_model)}: on the slow scenario, which stalls {self.slow_seconds:g} s after the first "
            "event, the astream ended before its consumer could be cancelled after that event: astream reads the "
            "whole stream before handing on its first event"
        )
        assert not outcome, f"{plugin_label(byom_model)}: an astream consumer task {outcome}"
        assert collect(byom_model.stream(self.reference(byom_model))).text, (
            "the model gave no text after a cancelled astream"
        )

    async def _cancel_scenario(self, model: Provider) -> str | None:
        """What went wrong when a consumer of ``model.astream`` was cancelled ("" for
        nothing; ``None`` when the stream ended before it could be)."""
        request = self.reference(model)
        first = asyncio.Event()
        before = asyncio.all_tasks()

        async def consume() -> str:
            async for _ in model.astream(request):
                first.set()
            return "finished"

        task = asyncio.create_task(consume())
        waiter = asyncio.create_task(first.wait())
        await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()  # an error before the first event is the finding
            return None
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        if not done:
            task.cancel()
            return "still running 5 s after it was cancelled"
        if not task.cancelled():
            return _not_cancelled(task)
        return await _tasks_left(before | {waiter}, "cancel them when the stream ends")

    @check("async.generate_cancel")
    def test_async_generate_cancel(self, byom_model: Provider) -> None:
        """Cancelling a task awaiting ``agenerate`` cancels it: the task ends cancelled,
        promptly — not with ``Timeout`` or another error — leaves no asyncio task of the
        provider's running, and the model still answers.

        The task is cancelled while the request is in flight (on the slow scenario when
        offered, a third into its stall; otherwise as soon as it awaits). TaskGroups and
        ``asyncio.timeout`` scopes rely on a cancelled task raising ``CancelledError``; a
        request wrapped in ``asyncio.shield`` (or handed to a task of its own) goes on after
        the caller gave up, holding a connection and running up cost. Fix: never turn
        ``asyncio.CancelledError`` into another exception in ``ahandle_generate`` (catch it
        only to clean up and re-raise); do not shield the request or leave it to a task
        nobody cancels.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        slow = self.make_slow_model()
        try:
            wait = self.slow_seconds / 3 if slow is not None else 0.0
            outcome = asyncio.run(self._cancel_generate(slow or byom_model, wait))
        finally:
            if slow is not None:
                slow.close()
        if outcome is None:
            pytest.skip(f"{plugin_label(byom_model)}: agenerate answered before it could be cancelled")
        assert not outcome, f"{plugin_label(byom_model)}: a task awaiting agenerate {outcome}"
        assert byom_model.generate(self.reference(byom_model)).text, (
            "the model gave no text after a cancelled agenerate"
        )

    async def _cancel_generate(self, model: Provider, wait: float) -> str | None:
        """What went wrong when a task awaiting ``model.agenerate`` was cancelled after
        ``wait`` seconds ("" for nothing; ``None`` when it had answered already)."""
        before = asyncio.all_tasks()
        task = asyncio.create_task(model.agenerate(self.reference(model)))
        await asyncio.sleep(wait)
        if task.done():
            task.result()  # an error before the cancellation is the finding
            return None
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        if not done:
            return "was still running 5 s after it was cancelled"
        if not task.cancelled():
            return _not_cancelled(task)
        return await _tasks_left(before | {task}, "cancel the request with its caller (no asyncio.shield)")


def _not_cancelled(task: asyncio.Task[Any]) -> str:
    """How a task that was cancelled ended instead of being cancelled."""
    error = task.exception()
    if error is not None:
        return f"raised {type(error).__module__}.{type(error).__name__}: {error} instead of being cancelled"
    return "finished normally after it was cancelled: the cancellation was swallowed"


async def _tasks_left(before: set[asyncio.Task[Any]], fix: str) -> str:
    """ "" when no task started since ``before`` is still pending after a few loop turns;
    otherwise what is left (a producer task reading a stream nobody consumes any more, a
    shielded request going on without its caller) and ``fix``."""
    for _ in range(5):
        await asyncio.sleep(0)
    await asyncio.sleep(_TICK * 4)
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t not in before and t is not current and not t.done()]
    if not left:
        return ""
    names = ", ".join(sorted({getattr(t.get_coro(), "__qualname__", t.get_name()) for t in left}))
    return f"was cancelled but left {len(left)} asyncio task(s) running ({names}): {fix}"
