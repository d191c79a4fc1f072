"""Checks of the async twins: parity with sync, the event loop, and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from ..._provider import Provider
from ..._types import FinishEvent
from ._core import check, plugin_label, require_capability
from ._subject import ModelSubject, collect, collect_async, vectors_close

__all__ = ["AsyncChecks"]

_TICK = 0.005


class AsyncChecks(ModelSubject):
    """The async twins give the same answers as the sync calls, from any event loop."""

    @check("async.generate")
    def test_async_generate(self, byom_model: Provider) -> None:
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
    def test_async_stream(self, byom_model: Provider) -> None:
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
        promptly, and the model still answers afterwards.

        The consumer is cancelled after the first event, while it waits for the next (on
        the slow scenario when offered, which stalls there). For a sync-only provider this
        exercises the core's thread bridge and the provider's generator cleanup. Fix:
        never catch ``asyncio.CancelledError`` in ``ahandle_stream`` (or catch it only to
        clean up and re-raise); release the response in ``finally``.
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
        if outcome is None:
            pytest.skip(f"{plugin_label(byom_model)}: the stream ended before the consumer could be cancelled")
        assert not outcome, f"{plugin_label(byom_model)}: an astream consumer task {outcome}"
        assert collect(byom_model.stream(self.reference(byom_model))).text, (
            "the model gave no text after a cancelled astream"
        )

    async def _cancel_scenario(self, model: Provider) -> str | None:
        """What went wrong when a consumer of ``model.astream`` was cancelled ("" for
        nothing; ``None`` when the stream ended before it could be)."""
        request = self.reference(model)
        first = asyncio.Event()

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
        if task.cancelled():
            return ""
        error = task.exception()
        if error is not None:
            return f"raised {type(error).__module__}.{type(error).__name__}: {error} instead of being cancelled"
        return "finished normally after it was cancelled: the cancellation was swallowed"
