"""Async calls to a sync-only provider hand their blocking effects to one worker thread.

An audited ``agenerate`` needs three things done off the loop (the intent append, the
provider call, the outcome append); each hop between the loop and a thread costs two
thread wake-ups. The runner lends the plan to one worker for the whole run — and a
cancelled caller still gets one-hop-per-effect semantics: it leaves a provider call behind
at once, but never skips or races an audit append.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import byom_sdk
from byom_sdk import Client, EmbedResponse, GenerateRequest, GenerateResponse, Interceptor, MiddlewareSpec, Usage
from byom_sdk.testing import ScriptedModel

REPLY = "one two three"


class SlowStep(Interceptor):
    """A plugin step doing blocking I/O in ``on_send`` or ``on_end`` (like an audit)."""

    blocking = True

    def __init__(self, log: list[tuple[str, int]], slow: str, seconds: float) -> None:
        self.log = log
        self.slow = slow
        self.seconds = seconds

    def on_send(self) -> None:
        self.log.append(("send", threading.get_ident()))
        if self.slow == "send":
            time.sleep(self.seconds)

    def on_end(self) -> None:
        self.log.append(("end", threading.get_ident()))
        if self.slow == "end":
            time.sleep(self.seconds)


class SlowStepPlugin:
    def __init__(self, log: list[tuple[str, int]], slow: str = "", seconds: float = 0.0) -> None:
        self.log, self.slow, self.seconds = log, slow, seconds

    @byom_sdk.hookimpl
    def byom_middleware(self) -> list[MiddlewareSpec]:
        plugin = self

        class Opener:
            def open(self, call: Any) -> Interceptor:
                return SlowStep(plugin.log, plugin.slow, plugin.seconds)

        return [MiddlewareSpec(name="slow", factory=lambda alias, info: Opener())]


class CountingPool:
    """Counts what is submitted to a real pool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return self.pool.submit(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, CountingPool]]:
    from byom_sdk._executors import Executors

    pools: dict[str, CountingPool] = {}
    real_calls, real_io = Executors.calls, Executors.io

    def wrap(name: str, real: Any) -> Any:
        def get(self: Executors) -> Any:
            if self.name != "byom":
                return real.fget(self)
            if name not in pools:
                pools[name] = CountingPool(real.fget(self))
            return pools[name]

        return property(get)

    monkeypatch.setattr(Executors, "calls", wrap("calls", real_calls))
    monkeypatch.setattr(Executors, "io", wrap("io", real_io))
    yield pools


def _client(registry: Any, provider: Any, log: list[tuple[str, int]], **slow: Any) -> Client:
    registry.register(SlowStepPlugin(log, **slow), name="slow-step")
    return Client(models={"m": provider}, policy={"audit": {"sink": "memory"}}, retry=None, registry=registry)


def _calls(client: Client) -> list[dict[str, Any]]:
    return byom_sdk.trust.calls_of(client.trust.sink.records)  # type: ignore[attr-defined]


def test_an_audited_async_call_to_a_sync_provider_takes_one_hop(registry, counted):
    threads: list[int] = []
    log: list[tuple[str, int]] = []

    def reply(request: GenerateRequest) -> str:
        threads.append(threading.get_ident())
        return REPLY

    client = _client(registry, ScriptedModel(reply), log)
    with client:
        result = asyncio.run(client.model("m").agenerate("hello"))
        assert result.text == REPLY
        # intent append, plugin on_send, the call, plugin on_end, outcome append: one worker
        assert counted["calls"].submitted == 1
        assert "io" not in counted or counted["io"].submitted == 0
        assert {ident for _, ident in log} == set(threads) and threading.get_ident() not in threads
        [call] = _calls(client)
        assert (call["outcome"], call["sent"]) == ("ok", True)
        # the same records as a sync call
        sync = client.model("m").generate("hello")
        assert sync.text == REPLY
        first, second = _calls(client)
        assert {k: v for k, v in first.items() if k in ("outcome", "sent", "attempts", "operation")} == {
            k: v for k, v in second.items() if k in ("outcome", "sent", "attempts", "operation")
        }


def test_a_caller_cancelled_during_the_provider_call_leaves_it_behind_at_once(registry):
    log: list[tuple[str, int]] = []
    client = _client(registry, ScriptedModel([REPLY], delay=2.0), log)
    with client:

        async def cancel_mid_call() -> float:
            task = asyncio.create_task(client.model("m").agenerate("hello"))
            await asyncio.sleep(0.2)
            started = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return time.perf_counter() - started

        waited = asyncio.run(cancel_mid_call())
        assert waited < 1.0, waited  # not the 1.8 s the provider still takes
        [call] = _calls(client)
        assert (call["outcome"], call["sent"]) == ("cancelled", True)
        assert [step for step, _ in log] == ["send", "end"]


def test_a_caller_cancelled_during_an_append_waits_for_it_and_sends_nothing(registry):
    log: list[tuple[str, int]] = []
    provider = ScriptedModel([REPLY])
    client = _client(registry, provider, log, slow="send", seconds=0.4)
    with client:

        async def cancel_during_send() -> float:
            task = asyncio.create_task(client.model("m").agenerate("hello"))
            await asyncio.sleep(0.1)
            started = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return time.perf_counter() - started

        waited = asyncio.run(cancel_during_send())
        assert waited >= 0.2, waited  # the append finished first
        assert provider.requests == []  # and the request never left
        [call] = _calls(client)
        assert (call["outcome"], call["sent"]) == ("cancelled", False)
        assert [step for step, _ in log] == ["send", "end"]


def test_a_caller_cancelled_during_the_last_append_still_leaves_one_outcome(registry):
    log: list[tuple[str, int]] = []
    provider = ScriptedModel([REPLY])
    client = _client(registry, provider, log, slow="end", seconds=0.4)
    with client:

        async def cancel_during_end() -> None:
            task = asyncio.create_task(client.model("m").agenerate("hello"))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancel_during_end())
        # The answer never reached the caller: the audit says the call was cancelled.
        [call] = _calls(client)
        assert (call["outcome"], call["sent"]) == ("cancelled", True)
        assert len(provider.requests) == 1 and [step for step, _ in log] == ["send", "end"]


class AsyncOnly(byom_sdk.Provider):
    """A natively async provider: its calls stay on the loop, its appends on ``io``."""

    info = ScriptedModel([REPLY]).info

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        await asyncio.sleep(0)
        return GenerateResponse(text=REPLY, finish_reason="stop", model="async", usage=Usage.estimate("a", REPLY))

    async def ahandle_embed(self, request: Any) -> EmbedResponse:
        return EmbedResponse(vectors=[[1.0, 0.0] for _ in request.texts], model="async")


def test_a_native_async_provider_is_called_on_the_loop_and_audited_on_io(registry, counted):
    log: list[tuple[str, int]] = []
    client = _client(registry, AsyncOnly(), log)
    with client:
        assert asyncio.run(client.model("m").agenerate("hello")).text == REPLY
        assert "calls" not in counted or counted["calls"].submitted == 0
        assert counted["io"].submitted >= 2  # intent + plugin on_send, then on_end + outcome
        [call] = _calls(client)
        assert (call["outcome"], call["sent"]) == ("ok", True)


def test_an_async_stream_of_a_sync_provider_takes_one_hop_per_event(registry, counted):
    """Start (intent, open, first read) and end (last read, close, outcome) ride along with
    an event's read: one worker hop per event read, plus the end of the stream."""
    log: list[tuple[str, int]] = []
    client = _client(registry, ScriptedModel([REPLY]), log)
    with client:

        async def read() -> list[Any]:
            return [event async for event in client.model("m").astream("hello")]

        events = asyncio.run(read())
        assert "".join(e.text for e in events if e.type == "text") == REPLY
        submitted = counted["calls"].submitted + (counted["io"].submitted if "io" in counted else 0)
        assert submitted == len(events) + 1, (submitted, len(events))
        [call] = _calls(client)
        assert (call["outcome"], call["sent"]) == ("ok", True)
        assert [step for step, _ in log] == ["send", "end"]


def test_a_consumer_cancelled_during_a_stalled_read_leaves_it_behind_at_once(registry):
    log: list[tuple[str, int]] = []
    client = _client(registry, ScriptedModel([REPLY], stall=2.0), log)
    with client:

        async def cancel_mid_stream() -> float:
            stream = client.model("m").astream("hello")
            first = await stream.__anext__()
            assert first.type == "text"
            task = asyncio.ensure_future(stream.__anext__())
            await asyncio.sleep(0.2)
            started = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return time.perf_counter() - started

        waited = asyncio.run(cancel_mid_stream())
        assert waited < 1.0, waited  # not the rest of the 2 s stall
        [call] = _calls(client)
        assert (call["outcome"], call["sent"]) == ("cancelled", True)
        assert [step for step, _ in log] == ["send", "end"]
