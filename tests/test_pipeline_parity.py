"""Sync and async run one plan: every scenario, through generate / agenerate, stream /
astream and embed / aembed, gives the same answers, errors, events and audit records — and
every call leaves exactly one outcome record, whatever happens to it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import byom_sdk
from byom_sdk import (
    BadRequest,
    ByomError,
    Client,
    Interceptor,
    MiddlewareSpec,
    ModelError,
    PolicyViolation,
    TextDelta,
    Throttled,
    Timeout,
    Unavailable,
)
from byom_sdk.testing import ScriptedModel

FAST = {"max_attempts": 3, "initial_backoff": 0.0, "max_backoff": 0.0, "jitter": False}
REPLY = "one two three four"


class FailingStep(Interceptor):
    def __init__(self, where: str) -> None:
        self.where = where

    def on_request(self, request: Any) -> Any:
        if self.where == "request":
            raise RuntimeError("middleware failed on the request")
        return request

    on_embed_request = on_request

    def on_end(self) -> None:
        if self.where == "end":
            raise RuntimeError("middleware failed in on_end")


class MiddlewarePlugin:
    def __init__(self, where: str) -> None:
        self.where = where

    @byom_sdk.hookimpl
    def byom_middleware(self):
        class Opener:
            def __init__(self, where: str) -> None:
                self.where = where

            def open(self, call: Any) -> Interceptor:
                return FailingStep(self.where)

        return [MiddlewareSpec(name="failing", factory=lambda alias, info: Opener(self.where))]


# scenario → (model kwargs, policy, middleware failure, retry deadline)
SCENARIOS: dict[str, dict[str, Any]] = {
    "success": {},
    "throttled-then-ok": {"failures": lambda: [Throttled("busy", provider="s")]},
    "unavailable": {"failures": lambda: [Unavailable("down", provider="s")] * 3},
    "model-error": {"failures": lambda: [ModelError("boom", provider="s")]},
    "bad-request": {"failures": lambda: [BadRequest("bad", provider="s")]},
    "refused": {"policy": {"required_retention": "none", "allowed_location_kinds": ["customer-cloud"]}},
    "middleware-request": {"middleware": "request"},
    "middleware-end": {"middleware": "end"},
    "deadline": {"delay": 0.3, "retry": {**FAST, "deadline": 0.1}},
}


def build(scenario: str, registry: Any) -> tuple[Client, ScriptedModel]:
    spec = SCENARIOS[scenario]
    failures = spec.get("failures", list)()
    model = ScriptedModel([REPLY], failures=failures, delay=spec.get("delay", 0.0))
    if "middleware" in spec:
        registry.register(MiddlewarePlugin(spec["middleware"]), name=f"failing-{spec['middleware']}")
    policy = {"audit": {"sink": "memory"}, **spec.get("policy", {})}
    client = Client(models={"m": model}, policy=policy, retry=spec.get("retry", FAST), registry=registry)
    return client, model


def outcome_of(result: Any) -> Any:
    if isinstance(result, BaseException):
        return type(result).__name__
    if isinstance(result, list):  # stream events
        return [e.text if isinstance(e, TextDelta) else e.type for e in result]
    if hasattr(result, "vectors"):
        return ("vectors", len(result.vectors))
    return (result.text, result.finish_reason)


def audit_view(client: Client) -> list[tuple[Any, ...]]:
    records = client.trust.sink.records  # type: ignore[attr-defined]
    return [
        (r["kind"], r.get("outcome"), r.get("error_type"), r.get("sent"), r.get("attempts"), r.get("operation"))
        for r in records
    ]


def run_sync(client: Client, operation: str) -> Any:
    model = client.model("m")
    try:
        if operation == "generate":
            return model.generate("say it")
        if operation == "stream":
            return list(model.stream("say it"))
        return model.embed(["a", "b"])
    except ByomError as exc:  # a failing middleware's RuntimeError arrives as a PluginError
        return exc


def run_async(client: Client, operation: str) -> Any:
    model = client.model("m")

    async def go() -> Any:
        try:
            if operation == "generate":
                return await model.agenerate("say it")
            if operation == "stream":
                return [event async for event in model.astream("say it")]
            return await model.aembed(["a", "b"])
        except ByomError as exc:
            return exc

    return asyncio.run(go())


@pytest.mark.parametrize("operation", ["generate", "stream", "embed"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_sync_and_async_agree(scenario, operation, registry):
    results = {}
    for side, runner in (("sync", run_sync), ("async", run_async)):
        with byom_sdk.testing.isolated_registry() as fresh:
            client, model = build(scenario, fresh)
            with client:
                result = runner(client, operation)
                results[side] = (outcome_of(result), audit_view(client), len(model.requests))
    assert results["sync"] == results["async"]
    _, records, _ = results["sync"]
    outcomes = [r for r in records if r[0] == "outcome"]
    assert len(outcomes) == 1, records  # exactly one outcome per call
    intents = [r for r in records if r[0] == "intent"]
    assert len(intents) == (1 if outcomes[0][3] else 0)  # an intent exactly when something was sent


def test_the_scenarios_mean_what_they_say(registry):
    """Spot checks that the table exercises what it names (so agreement is not vacuous)."""
    expected = {
        ("success", "generate"): ("one two three four", "stop"),
        ("throttled-then-ok", "generate"): ("one two three four", "stop"),
        ("unavailable", "generate"): "Unavailable",
        ("refused", "generate"): "PolicyViolation",
        ("middleware-request", "generate"): "PluginError",
        ("middleware-end", "stream"): "PluginError",
        ("deadline", "generate"): "Timeout",
    }
    for (scenario, operation), want in expected.items():
        with byom_sdk.testing.isolated_registry() as fresh:
            client, _ = build(scenario, fresh)
            with client:
                got = outcome_of(run_sync(client, operation))
                [outcome] = [r for r in audit_view(client) if r[0] == "outcome"]
        assert got == want, (scenario, operation, got)
        if isinstance(want, str):
            assert outcome[1] in ("error", "blocked"), outcome
    assert PolicyViolation and Timeout  # the names the table uses exist in the public API


def _client(registry: Any, **model: Any) -> tuple[Client, ScriptedModel]:
    scripted = ScriptedModel([REPLY], **model)
    return Client(models={"m": scripted}, policy={"audit": {"sink": "memory"}}, retry=FAST, registry=registry), scripted


def _outcomes(client: Client) -> list[dict[str, Any]]:
    return [r for r in client.trust.sink.records if r["kind"] == "outcome"]  # type: ignore[attr-defined]


def test_a_stream_that_is_never_iterated_leaves_one_cancelled_outcome(registry):
    client, model = _client(registry)
    with client:
        stream = client.model("m").stream("hello")
        stream.close()
        [outcome] = _outcomes(client)
        assert (outcome["outcome"], outcome["sent"]) == ("cancelled", False) and model.requests == []
        dropped = client.model("m").astream("hello")
        del dropped  # dropped without a read: finalised on a worker thread
        deadline = time.monotonic() + 5
        while len(_outcomes(client)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [o["outcome"] for o in _outcomes(client)] == ["cancelled", "cancelled"]
        assert model.requests == []


def test_a_stream_closed_early_is_cancelled_sync_and_async(registry):
    client, _ = _client(registry)
    with client:
        stream = client.model("m").stream("hello")
        first = next(stream)
        stream.close()

        async def partial() -> Any:
            stream = client.model("m").astream("hello")
            event = await stream.__anext__()
            await stream.aclose()
            return event

        assert asyncio.run(partial()) == first
        outcomes = _outcomes(client)
        assert [(o["outcome"], o["sent"]) for o in outcomes] == [("cancelled", True), ("cancelled", True)]


def test_a_cancelled_task_leaves_a_cancelled_outcome(registry):
    client, _ = _client(registry, delay=1.0)
    with client:

        async def cancel_mid_call() -> None:
            task = asyncio.create_task(client.model("m").agenerate("hello"))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancel_mid_call())
        deadline = time.monotonic() + 5
        while not _outcomes(client) and time.monotonic() < deadline:
            time.sleep(0.01)
        [outcome] = _outcomes(client)
        assert (outcome["outcome"], outcome["sent"]) == ("cancelled", True)


def test_async_calls_to_a_sync_provider_run_concurrently(registry):
    """64 calls to a provider that blocks 0.2 s each finish together, not 6 at a time."""
    client, _ = _client(registry, delay=0.2)
    with client:

        async def burst() -> float:
            started = time.perf_counter()
            await asyncio.gather(*(client.model("m").agenerate(f"q{i}") for i in range(64)))
            return time.perf_counter() - started

        elapsed = asyncio.run(burst())
    assert elapsed < 2.0, elapsed  # 64 x 0.2 s would be 12.8 s serially, ~2.2 s on 6 threads
