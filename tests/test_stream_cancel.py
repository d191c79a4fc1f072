"""Cancelling the consumer of an ``astream`` served by a sync-only provider.

The core reads such a stream on worker threads. A consumer cancelled while a worker is
inside the provider's ``next()`` must end cancelled (not with ``ValueError: generator
already executing`` from closing a running generator), and the provider's generator must
still be closed once that ``next()`` returns. Found by the conformance kit's
``async.stream_cancel`` check.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

from byom_sdk import Boundary, Capabilities, GenerateRequest, ModelInfo, Provider, StreamEvent, TextDelta
from byom_sdk.testing import ScriptedModel


class StallingProvider(Provider):
    """A sync-only stream that stalls inside ``next()`` after its first event."""

    def __init__(self, stall: float) -> None:
        super().__init__()
        self.stall = stall
        self.closed_generators = 0
        self.closed_event = threading.Event()

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(
            id="stalling",
            provider="test",
            capabilities=Capabilities(generate=True, stream=True),
            boundary=Boundary(provider="test", location_kind="process", network_path="in-process", retention="none"),
        )

    def handle_stream(self, request: GenerateRequest, *, unary: bool = False) -> Iterator[StreamEvent]:
        try:
            yield TextDelta(text="first ")
            time.sleep(self.stall)
            yield TextDelta(text="second")
        finally:
            self.closed_generators += 1
            self.closed_event.set()


async def _cancel_while_stalled(model: object) -> tuple[asyncio.Task[None], float]:
    """Cancel the consumer mid-stall; the task and how long its cancellation took."""
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in model.astream("one two three", max_tokens=8):  # type: ignore[attr-defined]
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    await asyncio.sleep(0.05)  # the worker thread is now inside the provider's next()
    cancelled_at = time.perf_counter()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done, "the consumer kept running after it was cancelled"
    return task, time.perf_counter() - cancelled_at


def test_cancelled_consumer_ends_cancelled_and_the_generator_is_closed_after_next_returns() -> None:
    provider = StallingProvider(stall=1.5)
    try:
        for _ in range(3):
            provider.closed_event.clear()
            task, took = asyncio.run(_cancel_while_stalled(provider))
            assert task.cancelled(), f"the consumer ended with {task.exception()!r} instead of being cancelled"
            # The cancellation did not wait out the stalled next() ...
            assert took < 1.0, f"cancelling took {took:.2f} s: it waited for the provider's next()"
            # ... and the generator is closed as soon as that next() returns.
            assert provider.closed_event.wait(5), "the provider's generator was never closed"
        assert provider.closed_generators == 3
    finally:
        provider.close()


def test_scripted_model_stream_cancel_repeats_cleanly() -> None:
    for _ in range(5):
        model = ScriptedModel(stall=0.3)
        try:
            task, _ = asyncio.run(_cancel_while_stalled(model))
            assert task.cancelled(), f"the consumer ended with {task.exception()!r} instead of being cancelled"
            assert model.generate("again", max_tokens=3).text, "the model gave nothing after a cancelled stream"
        finally:
            model.close()
