"""Async calls to a sync-only provider hand their blocking effects to one worker thread.

An audited ``agenerate`` needs several things done off the loop (the intent append, the
provider call, the outcome append, a blocking plugin step); each hop between the loop and a
thread costs two thread wake-ups. One ``calls`` worker carries the call from its intent to
its outcome — when every step of the call allows its hooks off the loop
(``Interceptor.any_thread``: the built-in steps do); a step that does not keeps its hooks on
the loop, in the caller's task. A cancelled caller leaves a provider call behind at once,
its outcome append then runs on ``io`` (never behind the call it left), and no append is
skipped or raced; provider work never runs on the ``io`` (audit) thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import byom_sdk
from byom_sdk import (
    Client,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    Interceptor,
    MiddlewareSpec,
    TextDelta,
    Unavailable,
    Usage,
)
from byom_sdk.testing import ScriptedModel

REPLY = "one two three"


class SlowStep(Interceptor):
    """A plugin step doing blocking I/O in ``on_send`` or ``on_end`` (like an audit), whose
    hooks may run on any thread."""

    blocking = True
    any_thread = True

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


def test_a_caller_cancelled_during_a_steps_blocking_on_end_still_leaves_one_cancelled_outcome(registry):
    """The cancellation lands after the step's ``on_end``; the end phase goes on, so the
    audit (outermost) records the call as cancelled — what the caller sees."""
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
        [call] = _calls(client)
        assert (call["outcome"], call["sent"]) == ("cancelled", True)
        assert len(provider.requests) == 1 and [step for step, _ in log] == ["send", "end"]


def test_a_step_whose_blocking_on_end_is_interrupted_still_lets_the_audit_record_the_outcome(registry):
    """A plugin step without ``any_thread`` gets one hop per effect: a cancellation during
    its blocking ``on_end`` lands in the end phase, which still ends the audit step."""
    log: list[tuple[str, int]] = []

    class LoopSlowStep(SlowStep):
        any_thread = False

    class Plugin:
        @byom_sdk.hookimpl
        def byom_middleware(self) -> list[MiddlewareSpec]:
            class Opener:
                def open(self, call: Any) -> Interceptor:
                    return LoopSlowStep(log, "end", 0.4)

            return [MiddlewareSpec(name="loop-slow", factory=lambda alias, info: Opener())]

    registry.register(Plugin(), name="loop-slow")
    provider = ScriptedModel([REPLY])
    client = Client(models={"m": provider}, policy={"audit": {"sink": "memory"}}, retry=None, registry=registry)
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
        assert [step for step, _ in log] == ["send", "end"]


class AsyncOnly(byom_sdk.Provider):
    """A provider natively async in every operation: its calls stay on the loop, its
    appends go to ``io``."""

    info = ScriptedModel([REPLY]).info

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        await asyncio.sleep(0)
        return GenerateResponse(text=REPLY, finish_reason="stop", model="async", usage=Usage.estimate("a", REPLY))

    async def ahandle_embed(self, request: Any) -> EmbedResponse:
        return EmbedResponse(vectors=[[1.0, 0.0] for _ in request.texts], model="async")

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[Any]:  # type: ignore[override]
        yield TextDelta(text=REPLY)
        yield FinishEvent(finish_reason="stop", usage=Usage.estimate("a", REPLY))


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
    """The start (intent, open, first read) and the end (last read, close, outcome) ride
    along with a read: one worker hop per event read, plus the end of the stream."""
    log: list[tuple[str, int]] = []
    client = _client(registry, ScriptedModel([REPLY]), log)
    with client:

        async def read() -> list[Any]:
            return [event async for event in client.model("m").astream("hello")]

        events = asyncio.run(read())
        assert "".join(e.text for e in events if e.type == "text") == REPLY
        assert "io" not in counted or counted["io"].submitted == 0
        assert counted["calls"].submitted == len(events) + 1, (counted["calls"].submitted, len(events))
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


VAR: contextvars.ContextVar[str] = contextvars.ContextVar("probe", default="unset")


class LoopStep(Interceptor):
    """A plugin step using the caller's context and loop (OpenTelemetry's attach/detach
    pattern): it does not declare ``any_thread``."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log
        self.token: contextvars.Token[str] | None = None

    def on_request(self, request: Any) -> Any:
        self.token = VAR.set("in call")
        return request

    on_embed_request = on_request

    def on_response(self, response: Any) -> Any:
        self.log.append(("response", threading.get_ident(), VAR.get()))
        return response

    def on_end(self) -> None:
        asyncio.get_running_loop()  # raises off the loop
        assert self.token is not None
        VAR.reset(self.token)  # raises in another context
        self.log.append(("end", threading.get_ident(), VAR.get()))


class LoopStepPlugin:
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    @byom_sdk.hookimpl
    def byom_middleware(self) -> list[MiddlewareSpec]:
        plugin = self

        class Opener:
            def open(self, call: Any) -> Interceptor:
                return LoopStep(plugin.log)

        return [MiddlewareSpec(name="loop-step", factory=lambda alias, info: Opener())]


@pytest.mark.parametrize("operation", ["generate", "stream", "embed"])
def test_a_step_without_any_thread_keeps_its_hooks_on_the_loop_in_the_callers_context(registry, operation):
    log: list[Any] = []
    registry.register(LoopStepPlugin(log), name="loop-step")
    client = Client(models={"m": ScriptedModel([REPLY])}, policy={"audit": {"sink": "memory"}}, registry=registry)
    with client:

        async def call() -> int:
            model = client.model("m")
            if operation == "generate":
                assert (await model.agenerate("hello")).text == REPLY
            elif operation == "stream":
                assert [e async for e in model.astream("hello")]
            else:
                assert (await model.aembed(["a"])).vectors
            return threading.get_ident()

        loop_thread = asyncio.run(call())
        assert log and all(ident == loop_thread for _, ident, _ in log), log
        assert ("end", loop_thread, "unset") in log
        [record] = _calls(client)
        assert record["outcome"] == "ok"


def test_a_cancelled_caller_is_released_at_once_when_every_call_thread_is_busy(registry):
    """The outcome append of a caller that left its call behind goes to ``io``, never
    behind the call it left on the only ``calls`` thread."""
    model = ScriptedModel([REPLY], delay=2.0)
    client = Client(
        models={"m": model}, policy={"audit": {"sink": "memory"}}, retry=None, registry=registry, max_concurrency=1
    )
    with client:

        async def cancel() -> float:
            task = asyncio.create_task(client.model("m").agenerate("hello"))
            await asyncio.sleep(0.2)
            started = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return time.perf_counter() - started

        assert asyncio.run(cancel()) < 1.0
        [call] = _calls(client)
        assert (call["outcome"], call["sent"]) == ("cancelled", True)


class SyncStreamAsyncRest(byom_sdk.Provider):
    """Native async generate and embed, a sync-only stream."""

    info = ScriptedModel([REPLY]).info

    def __init__(self) -> None:
        self.stream_threads: list[str] = []

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        return GenerateResponse(text=REPLY, finish_reason="stop", model="x", usage=Usage.estimate("a", REPLY))

    async def ahandle_embed(self, request: Any) -> EmbedResponse:
        return EmbedResponse(vectors=[[1.0, 0.0] for _ in request.texts], model="x")

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        self.stream_threads.append(threading.current_thread().name)
        yield TextDelta(text=REPLY)
        yield FinishEvent(finish_reason="stop", usage=Usage.estimate("a", REPLY))


def test_provider_work_never_runs_on_the_audit_thread(registry):
    provider = SyncStreamAsyncRest()
    client = Client(models={"m": provider}, policy={"audit": {"sink": "memory"}}, registry=registry)
    with client:

        async def read() -> list[Any]:
            return [event async for event in client.model("m").astream("hello")]

        assert asyncio.run(read())
        assert provider.stream_threads and all(name.startswith("byom-call") for name in provider.stream_threads)


class Body:
    def __init__(self) -> None:
        self.closed = False
        self._events = iter([TextDelta(text="hi"), FinishEvent(finish_reason="stop")])

    def __iter__(self) -> Body:
        return self

    def __next__(self) -> Any:
        return next(self._events)

    def close(self) -> None:
        self.closed = True


class SlowOpen(byom_sdk.Provider):
    """Opens its stream eagerly and slowly (like boto3's response stream)."""

    info = ScriptedModel([REPLY]).info

    def __init__(self) -> None:
        self.bodies: list[Body] = []

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        time.sleep(0.5)
        body = Body()
        self.bodies.append(body)
        return body


def test_a_stream_opened_after_its_caller_left_is_closed(registry):
    provider = SlowOpen()
    client = Client(models={"m": provider}, policy={"audit": {"sink": "memory"}}, retry=None, registry=registry)
    with client:

        async def leave() -> None:
            async def read() -> list[Any]:
                return [event async for event in client.model("m").astream("hi")]

            task = asyncio.create_task(read())
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.6)  # the open finishes in its thread

        asyncio.run(leave())
        [call] = _calls(client)
        assert call["outcome"] == "cancelled"
        assert len(provider.bodies) == 1 and provider.bodies[0].closed


def test_steps_end_when_the_client_closes_during_a_retry_backoff(registry):
    """The executors are gone when the retry would start: the error goes into the plan, so
    every step still ends (a blocking one is told it failed: its thread is gone too)."""
    log: list[Any] = []
    registry.register(LoopStepPlugin(log), name="loop-step")
    model = ScriptedModel([REPLY], failures=[Unavailable("down", provider="s")])
    retry = {"max_attempts": 3, "initial_backoff": 0.3, "max_backoff": 0.3, "jitter": False}
    client = Client(models={"m": model}, policy={"audit": {"sink": "memory"}}, retry=retry, registry=registry)

    async def close_mid_call() -> BaseException | None:
        task = asyncio.create_task(client.model("m").agenerate("hello"))
        await asyncio.sleep(0.1)
        await client.aclose(timeout=0)  # close under the call, not after it
        try:
            await task
        except BaseException as exc:
            return exc
        return None

    error = asyncio.run(close_mid_call())
    assert isinstance(error, byom_sdk.ByomError), error
    assert [entry[0] for entry in log] == ["end"]  # the step still ended, once


@pytest.mark.parametrize("operation", ["generate", "stream"])
def test_a_call_cancelled_while_queued_for_a_worker_records_that_nothing_was_sent(registry, operation):
    model = ScriptedModel([REPLY], delay=1.5)
    client = Client(
        models={"m": model}, policy={"audit": {"sink": "memory"}}, retry=None, registry=registry, max_concurrency=1
    )
    with client:

        async def queue_and_cancel() -> float:
            first = asyncio.create_task(client.model("m").agenerate("first"))
            await asyncio.sleep(0.2)  # the only call thread is busy with the first call

            async def second() -> Any:
                if operation == "generate":
                    return await client.model("m").agenerate("second")
                return [event async for event in client.model("m").astream("second")]

            task = asyncio.create_task(second())
            await asyncio.sleep(0.2)
            started = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            waited = time.perf_counter() - started
            await first
            return waited

        assert asyncio.run(queue_and_cancel()) < 1.0
        assert len(model.requests) == 1  # only the first call reached the provider
        outcomes = sorted((call["outcome"], call["sent"]) for call in _calls(client))
        assert outcomes == [("cancelled", False), ("ok", True)]
