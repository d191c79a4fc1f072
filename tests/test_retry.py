"""One retry policy: retryable errors only, backoff, deadline, no retry after a stream delta."""

from __future__ import annotations

import asyncio
import random

import pytest

from byom_sdk import (
    BadRequest,
    Boundary,
    Capabilities,
    Client,
    Model,
    ModelError,
    ModelInfo,
    RetryPolicy,
    TextDelta,
    Throttled,
    Timeout,
    Unavailable,
)
from byom_sdk.testing import ScriptedModel

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0, jitter=False)


def _client(model, retry=FAST):
    return Client(models={"m": model}, retry=retry, trust="off")


def test_retryable_errors_are_retried_until_success():
    """Throttled and Unavailable are retried; the call then succeeds."""
    model = ScriptedModel(["ok"], failures=[Throttled("t"), Unavailable("u")])
    assert _client(model).model("m").generate("x").text == "ok"
    assert len(model.requests) == 3


@pytest.mark.parametrize("error", [BadRequest("bad"), Timeout("slow"), ModelError("container")])
def test_non_retryable_errors_fail_at_once(error):
    """Errors not marked retryable are raised after one attempt."""
    model = ScriptedModel(["ok"], failures=[error])
    with pytest.raises(type(error)) as info:
        _client(model).model("m").generate("x")
    assert info.value.attempts == 1 and len(model.requests) == 1


def test_instance_retryable_flag_overrides_class_default():
    """A ModelError marked retryable (container overload) is retried."""
    model = ScriptedModel(["ok"], failures=[ModelError("overloaded", retryable=True)])
    assert _client(model).model("m").generate("x").text == "ok"


def test_attempts_are_bounded_and_counted():
    """After max_attempts the last error is raised with the attempt count."""
    model = ScriptedModel(["ok"], failures=[Unavailable(str(i)) for i in range(10)])
    with pytest.raises(Unavailable) as info:
        _client(model).model("m").generate("x")
    assert info.value.attempts == 4 and len(model.requests) == 4


class Recording(Model):
    """Fails every call with ``error`` and records each attempt's timeout."""

    info = ModelInfo(
        id="rec",
        provider="rec",
        capabilities=Capabilities(generate=True, chat=True, stream=True),
        boundary=Boundary(provider="rec", location_kind="process", retention="none"),
    )

    def __init__(self, error, events=()):
        self.error = error
        self.events = list(events)
        self.timeouts = []

    def _generate(self, request):
        self.timeouts.append(request.timeout)
        raise self.error

    def _stream(self, request):
        self.timeouts.append(request.timeout)
        yield from self.events
        raise self.error


def test_deadline_stops_retrying_and_sets_attempt_timeout(monkeypatch):
    """The total deadline bounds the sleeps, and each attempt gets the time left as timeout."""
    now = [0.0]
    policy = RetryPolicy(
        max_attempts=10, initial_backoff=1.0, multiplier=2.0, max_backoff=100.0, jitter=False, deadline=5.0
    )
    object.__setattr__(policy, "now", lambda: now[0])

    def fake_sleep(seconds):
        now[0] += seconds

    monkeypatch.setattr("byom_sdk._runner.time.sleep", fake_sleep)
    model = Recording(Unavailable("down"))
    with pytest.raises(Unavailable) as info:
        _client(model, retry=policy).model("m").generate("x")
    # sleeps 1 then 2 (t=3); the next backoff of 4 would pass the 5 s deadline
    assert info.value.attempts == 3
    assert model.timeouts == [5.0, 4.0, 2.0]


def test_a_request_the_endpoint_received_is_not_sent_again_unless_configured():
    """A connection dropped while the answer came back: the endpoint already ran it."""
    dropped = Unavailable("connection dropped mid-response", request_sent=True)
    model = Recording(dropped)
    with pytest.raises(Unavailable) as info:
        _client(model).model("m").generate("x")
    assert info.value.attempts == 1 and len(model.timeouts) == 1
    again = Recording(Unavailable("connection dropped mid-response", request_sent=True))
    with pytest.raises(Unavailable):
        _client(again, retry=FAST.model_copy(update={"retry_sent_requests": True})).model("m").generate("x")
    assert len(again.timeouts) == FAST.max_attempts


def test_backoff_is_exponential_jittered_and_honours_retry_after():
    """Backoff grows, jitter stays within [0, backoff], and a provider hint raises the floor."""
    policy = RetryPolicy(initial_backoff=0.5, multiplier=2.0, max_backoff=3.0, jitter=False)
    assert [policy.backoff(n, Unavailable("x")) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    jittered = RetryPolicy(initial_backoff=1.0, jitter=True)
    rng = random.Random(7)
    assert all(0.0 <= jittered.backoff(1, Unavailable("x"), rng) <= 1.0 for _ in range(100))
    assert policy.backoff(1, Unavailable("cold start", retry_after=2.5)) == 2.5


def test_stream_is_retried_before_its_first_delta():
    """A stream that fails before yielding anything is retried."""
    model = ScriptedModel(["a b c"], failures=[Throttled("busy")])
    events = list(_client(model).model("m").stream("x"))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "a b c"
    assert len(model.requests) == 2


def test_stream_is_never_retried_after_a_delta_reached_the_caller():
    """Once the provider sent an event, a failure is raised as is, even if retryable."""
    model = Recording(Unavailable("connection dropped mid-stream"), events=[TextDelta(text="partial")])
    received = []
    with pytest.raises(Unavailable) as info:
        for event in _client(model).model("m").stream("x"):
            received.append(event)
    assert [e.text for e in received] == ["partial"]
    assert len(model.timeouts) == 1 and info.value.attempts == 1


def test_async_policy_matches_sync():
    """acall/astream retry the same way without blocking the loop."""
    model = ScriptedModel(["ok go"], failures=[Throttled("1"), Throttled("2")])
    managed = _client(model).model("m")

    async def run():
        first = await managed.agenerate("x")
        model._failures.extend([Unavailable("3")])
        events = [e async for e in managed.astream("y")]
        return first, events

    first, events = asyncio.run(run())
    assert first.text == "ok go"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "ok go"
    assert len(model.requests) == 5


def test_async_stream_not_retried_after_delta():
    """The async stream path also refuses to retry after a delta (same plan as sync)."""
    model = Recording(Throttled("late"), events=[TextDelta(text="x")])

    async def run():
        return [event async for event in _client(model).model("m").astream("p")]

    with pytest.raises(Throttled) as info:
        asyncio.run(run())
    assert info.value.attempts == 1 and len(model.timeouts) == 1


def test_retry_policy_validates_its_fields():
    """Bad retry settings are rejected with the field named."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
