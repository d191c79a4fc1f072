"""One retry policy: retryable errors only, backoff, deadline, no retry after a stream delta."""

from __future__ import annotations

import asyncio
import random

import pytest

from byom_sdk import (
    BadRequest,
    Client,
    GenerateRequest,
    ModelError,
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


def test_deadline_stops_retrying_and_sets_attempt_timeout():
    """The total deadline bounds the sleeps, and each attempt gets the time left as timeout."""
    now = [0.0]
    policy = RetryPolicy(
        max_attempts=10, initial_backoff=1.0, multiplier=2.0, max_backoff=100.0, jitter=False, deadline=5.0
    )
    object.__setattr__(policy, "_now", lambda: now[0])
    seen = []

    def call(request: GenerateRequest):
        seen.append(request.timeout)
        raise Unavailable("down")

    def fake_sleep(seconds):
        now[0] += seconds

    with pytest.raises(Unavailable) as info:
        policy.call(call, GenerateRequest(prompt="x"), sleep=fake_sleep)
    # sleeps 1 then 2 (t=3); the next backoff of 4 would pass the 5 s deadline
    assert info.value.attempts == 3
    assert seen == [5.0, 4.0, 2.0]


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
    """Once a delta was yielded, a failure is raised as is, even if retryable."""
    calls = []

    def failing_stream(request):
        calls.append(request)
        yield TextDelta(text="partial")
        raise Unavailable("connection dropped mid-stream")

    received = []
    with pytest.raises(Unavailable) as info:
        for event in FAST.stream(failing_stream, GenerateRequest(prompt="x")):
            received.append(event)
    assert [e.text for e in received] == ["partial"]
    assert len(calls) == 1 and info.value.attempts == 1


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
    """The async stream path also refuses to retry after a delta."""

    async def failing(request):
        yield TextDelta(text="x")
        raise Throttled("late")

    async def run():
        out = []
        async for event in FAST.astream(failing, GenerateRequest(prompt="p")):
            out.append(event)
        return out

    with pytest.raises(Throttled) as info:
        asyncio.run(run())
    assert info.value.attempts == 1


def test_retry_policy_validates_its_fields():
    """Bad retry settings are rejected with the field named."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
