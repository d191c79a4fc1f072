"""Adversarial checks of the call path, each a defect once found by a review:

- a plugin middleware raising a foreign exception in any hook reached the caller (and the
  audit) as that raw exception, naming neither the middleware nor the model;
- a stream made and never read, or left open on a loop that has since ended, had no
  outcome once its Client closed (an intent without an outcome, with trust on);
- interrupting a sync call to a natively async provider (Ctrl-C) left the provider's
  coroutine running on the bridge loop, generating for nobody;
- a ``retry_after`` hint above ``max_backoff`` was cut short: the retry came early.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import pytest

import byom_sdk
from byom_sdk import (
    Boundary,
    Capabilities,
    Client,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    Interceptor,
    MiddlewareSpec,
    ModelInfo,
    PluginError,
    Provider,
    RetryPolicy,
    StreamEvent,
    TextDelta,
    Throttled,
)
from byom_sdk.testing import ScriptedModel

FAST = {"max_attempts": 1, "initial_backoff": 0.0, "max_backoff": 0.0, "jitter": False}


def _client(registry: Any, model: Provider, *, trust: Literal["on", "off"] = "on") -> tuple[Client, Any]:
    client = Client(
        models={"m": model}, policy={"audit": {"sink": "memory"}}, retry=FAST, registry=registry, trust=trust
    )
    return client, client.trust.sink


def _outcomes(sink: Any) -> list[tuple[Any, ...]]:
    return [(r["outcome"], r.get("error_type"), r.get("sent")) for r in sink.records if r["kind"] == "outcome"]


# -- middleware failures are PluginErrors naming the step and the model ----------------------


class Faulty(Interceptor):
    def __init__(self, hook: str) -> None:
        self.hook = hook

    def _maybe(self, hook: str) -> None:
        if hook == self.hook:
            raise RuntimeError(f"faulty {hook}")

    def on_request(self, request: Any) -> Any:
        self._maybe("on_request")
        return request

    def on_send(self) -> None:
        self._maybe("on_send")

    def on_response(self, response: Any) -> Any:
        self._maybe("on_response")
        return response

    def on_event(self, event: StreamEvent) -> Any:
        self._maybe("on_event")
        return (event,)

    def on_end(self) -> None:
        self._maybe("on_end")


class FaultyOpener:
    name = "faulty-step"

    def __init__(self, hook: str) -> None:
        self.hook = hook

    def open(self, call: Any) -> Interceptor:
        if self.hook == "open":
            raise RuntimeError("faulty open")
        return Faulty(self.hook)


class FaultyPlugin:
    def __init__(self, hook: str) -> None:
        self.hook = hook

    @byom_sdk.hookimpl
    def byom_middleware(self) -> list[MiddlewareSpec]:
        return [MiddlewareSpec(name="faulty", factory=lambda alias, info: FaultyOpener(self.hook))]


async def _astream_all(model: Any) -> list[StreamEvent]:
    return [event async for event in model.astream("say it")]


CALLS: dict[str, Callable[[Any], Any]] = {
    "generate": lambda m: m.generate("say it"),
    "agenerate": lambda m: asyncio.run(m.agenerate("say it")),
    "stream": lambda m: list(m.stream("say it")),
    "astream": lambda m: asyncio.run(_astream_all(m)),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("hook", ["open", "on_request", "on_send", "on_response", "on_event", "on_end"])
def test_a_middleware_failing_in_any_hook_is_a_plugin_error_naming_it(registry: Any, hook: str, call: str) -> None:
    if (hook == "on_response") != (call in ("generate", "agenerate")) and hook in ("on_response", "on_event"):
        pytest.skip("the hook is not called by this operation")
    registry.register(FaultyPlugin(hook), name="faulty-plugin")
    client, sink = _client(registry, ScriptedModel(["one two"]))
    with client:
        with pytest.raises(PluginError) as caught:
            CALLS[call](client.model("m"))
        # The step is named by its ``name``, else by its class (the opener's, for ``open``).
        step = "faulty-step" if hook == "open" else f"{__name__}.Faulty"
        assert f"middleware '{step}' of model 'm'" in str(caught.value)
        assert f"RuntimeError: faulty {hook}" in str(caught.value)
        assert caught.value.plugin == step
        assert isinstance(caught.value.__cause__, RuntimeError)
        [(outcome, error_type, _)] = _outcomes(sink)
        assert (outcome, error_type) == ("error", "PluginError")


# -- Client.close ends streams nobody can end any more -------------------------------------


@pytest.mark.parametrize("trust", ["on", "off"])
def test_streams_never_read_get_their_outcome_when_the_client_closes(
    registry: Any, trust: Literal["on", "off"]
) -> None:
    client, sink = _client(registry, ScriptedModel(["one two"]), trust=trust)
    model = client.model("m")
    never_read, never_aread = model.stream("hello"), model.astream("hello")
    client.close()
    assert _outcomes(sink) == [("cancelled", "StreamCancelled", False)] * 2
    with pytest.raises(byom_sdk.ByomError, match="closed"):
        next(never_read)
    del never_aread


def test_streams_never_read_get_their_outcome_when_the_client_acloses(registry: Any) -> None:
    client, sink = _client(registry, ScriptedModel(["one two"]))

    async def go() -> list[Any]:
        model = client.model("m")
        kept = [model.stream("hello"), model.astream("hello")]
        await client.aclose()
        return kept

    asyncio.run(go())
    assert _outcomes(sink) == [("cancelled", "StreamCancelled", False)] * 2


def test_an_astream_left_open_on_an_ended_loop_is_ended_by_a_sync_close(registry: Any) -> None:
    client, sink = _client(registry, ScriptedModel(["one two three"]))

    async def first_event() -> Any:
        stream = client.model("m").astream("hello")
        await stream.__anext__()
        return stream

    kept = asyncio.run(first_event())
    client.close()
    assert _outcomes(sink) == [("cancelled", "StreamCancelled", True)]
    assert [r["kind"] for r in sink.records] == ["intent", "outcome"]
    del kept


# -- an interrupted sync call cancels a natively async provider's work -----------------------

INFO = ModelInfo(
    id="waiting",
    provider="waiting",
    capabilities=Capabilities(generate=True, chat=True, stream=True),
    boundary=Boundary(provider="waiting", location_kind="process", network_path="in-process", retention="none"),
)


class Interrupt(BaseException):
    """Stands for KeyboardInterrupt without risking pytest's own handler."""


class WaitsForever(Provider):
    """Natively async; each call waits until it is cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.cancelled = threading.Event()

    @property
    def info(self) -> ModelInfo:
        return INFO

    async def _wait(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        await self._wait()
        raise AssertionError("unreachable")

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:
        yield TextDelta(text="first")
        await self._wait()
        yield FinishEvent(finish_reason="stop")


def _interrupt_main_when(started: threading.Event) -> threading.Thread:
    main = threading.main_thread().ident
    assert main is not None

    def fire() -> None:
        if started.wait(10):
            # To the main thread itself: a signal sent to the process may be delivered to
            # another thread, and the main thread, blocked in a lock, would not wake to run
            # the handler until the call ended by itself (never, here).
            signal.pthread_kill(main, signal.SIGUSR1)

    thread = threading.Thread(target=fire)
    thread.start()
    return thread


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
@pytest.mark.parametrize("operation", ["generate", "stream"])
def test_an_interrupted_sync_call_cancels_the_async_providers_work(registry: Any, operation: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")

    def interrupt(signum: int, frame: Any) -> None:
        raise Interrupt

    provider = WaitsForever()
    client, sink = _client(registry, provider)
    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        with client:
            firing = _interrupt_main_when(provider.started)
            with pytest.raises(Interrupt):
                if operation == "generate":
                    client.model("m").generate("hello")
                else:
                    for _ in client.model("m").stream("hello"):
                        pass
            firing.join()
            # The provider's coroutine was cancelled, not left waiting on the bridge loop.
            assert provider.cancelled.wait(10)
            [(_, error_type, sent)] = _outcomes(sink)  # (KeyboardInterrupt reads "cancelled")
            assert (error_type, sent) == ("Interrupt", True)
    finally:
        signal.signal(signal.SIGUSR1, previous)


# -- retry_after is never cut short -----------------------------------------------------------


def test_a_retry_after_hint_above_max_backoff_is_waited_out_or_the_call_fails() -> None:
    hinted = Throttled("slow down", retry_after=5.0)
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=1.0, jitter=True, deadline=60.0)
    delay = policy.backoff(1, hinted)
    assert delay == 5.0  # was min(5.0, max_backoff): a retry the server would refuse
    assert not policy.give_up(hinted, 1, policy.now(), delay)
    # Past the deadline, or unbounded (no deadline, above the cap): fail now, never early.
    assert RetryPolicy(max_backoff=1.0, deadline=3.0).give_up(hinted, 1, policy.now(), delay)
    assert RetryPolicy(max_backoff=1.0, deadline=None).give_up(hinted, 1, policy.now(), delay)
    assert not RetryPolicy(max_backoff=1.0, deadline=None).give_up(Throttled("x"), 1, policy.now(), 0.5)
