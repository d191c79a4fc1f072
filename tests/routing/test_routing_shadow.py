"""Shadow traffic: a copy of each request goes to a second target through its own
pipeline — gated, masked, audited — and never delays or fails the live call."""

from __future__ import annotations

import asyncio

import pytest

ROUTE = {"targets": ["live"], "shadow": {"target": "candidate"}}
PROMPT = "Refund the order of jane.doe@example.com"


def _setup(endpoints, make_client, route=ROUTE):
    live, candidate = endpoints("live", "eu-west-1"), endpoints("candidate", "eu-central-1")
    client = make_client({"live": live, "candidate": candidate}, {"support": route})
    return client, client.model("support"), live, candidate


def _shadow_calls(calls, client):
    return [c for c in calls(client) if c.get("route", {}).get("why") == "shadow"]


@pytest.mark.parametrize("operation", ["generate", "stream", "embed"])
def test_a_shadow_copy_is_masked_and_audited(operation, endpoints, make_client, calls):
    client, route, _live, candidate = _setup(endpoints, make_client)
    if operation == "generate":
        assert route.generate(PROMPT).text.startswith("live")
    elif operation == "stream":
        assert "".join(getattr(e, "text", "") for e in route.stream(PROMPT)).startswith("live")
    else:
        assert route.embed([PROMPT]).model == "live"
    assert route.shadows.wait(5)
    (sent,) = candidate.seen
    text = sent.texts[0] if operation == "embed" else sent.as_messages()[-1].content
    assert "jane.doe@example.com" not in text and ("<EMAIL_" in text or "[EMAIL]" in text)  # embeddings: redacted
    (shadow,) = _shadow_calls(calls, client)
    live_call = next(c for c in calls(client) if c["model"] == "live")
    assert shadow["model"] == "candidate" and shadow["outcome"] == "ok" and shadow["entities"].get("EMAIL") == 1
    assert shadow["route"]["shadow_of"] == "live" and shadow["route"]["call_id"] == live_call["route"]["call_id"]


def test_async_callers_shadow_on_their_loop(endpoints, make_client, calls):
    client, route, _live, candidate = _setup(endpoints, make_client)

    async def main():
        reply = await route.agenerate(PROMPT)
        await route.shadows.await_tasks(5)
        return reply

    assert asyncio.run(main()).text.startswith("live")
    assert len(candidate.seen) == 1 and len(_shadow_calls(calls, client)) == 1


def test_a_failing_shadow_never_fails_the_live_call(endpoints, make_client, calls, fail):
    client, route, _live, candidate = _setup(endpoints, make_client)
    candidate.failures.append(fail("candidate"))
    assert route.generate(PROMPT).text.startswith("live")
    assert route.shadows.wait(5)
    (shadow,) = _shadow_calls(calls, client)
    assert shadow["outcome"] == "error" and route.shadows.failed == 1


def test_a_shadow_outside_the_policy_is_refused_and_nothing_is_sent(endpoints, make_client, calls):
    client, route, _live, candidate = _setup(endpoints, make_client)
    candidate.move_to("us-east-1")
    assert route.generate(PROMPT).text.startswith("live")
    assert route.shadows.wait(5)
    assert not candidate.seen
    (shadow,) = _shadow_calls(calls, client)
    assert shadow["outcome"] == "blocked" and shadow["rule"] == "allowed_jurisdictions"


def test_a_slow_shadow_does_not_delay_the_live_call(endpoints, make_client):
    import threading
    import time

    _client, route, _live, candidate = _setup(
        endpoints, make_client, {**ROUTE, "shadow": {"target": "candidate", "max_in_flight": 1}}
    )
    release = threading.Event()
    original = candidate.handle_generate

    def blocked(request):
        release.wait(5)
        return original(request)

    candidate.handle_generate = blocked  # type: ignore[method-assign]
    started = time.perf_counter()
    for _ in range(3):
        route.generate("hi")
    assert time.perf_counter() - started < 2
    assert route.shadows.dropped == 2  # one in flight; the other copies were dropped
    release.set()
    assert route.shadows.wait(5)


def test_shadow_percent_samples_the_copies(endpoints, make_client):
    _client, route, live, candidate = _setup(
        endpoints, make_client, {**ROUTE, "shadow": {"target": "candidate", "percent": 0}}
    )
    for _ in range(5):
        route.generate("hi")
    assert route.shadows.wait(5)
    assert not candidate.seen and len(live.seen) == 5
