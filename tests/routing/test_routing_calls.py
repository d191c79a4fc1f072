"""A route called exactly like an alias: every operation, sync and async from one plan;
fallback on typed errors inside one deadline; every hop gated, masked and audited."""

from __future__ import annotations

import asyncio
import time

import pytest

from byom_sdk import BadRequest, PolicyViolation, Timeout, Unavailable
from byom_sdk.routing import RoutedModel

ROUTE = {"targets": ["primary"], "fallback": ["secondary"], "sticky": "user"}


def _pair(endpoints):
    return endpoints("primary", "eu-west-1"), endpoints("secondary", "eu-central-1")


def run(model, operation, *args, **kwargs):
    """Call ``operation`` sync or async (``a``-prefixed) and return the answer's text."""

    async def consume_astream():
        return "".join([getattr(e, "text", "") async for e in model.astream(*args, **kwargs)])

    if operation == "generate":
        return model.generate(*args, **kwargs).text
    if operation == "agenerate":
        return asyncio.run(model.agenerate(*args, **kwargs)).text
    if operation == "stream":
        return "".join(getattr(e, "text", "") for e in model.stream(*args, **kwargs))
    if operation == "astream":
        return asyncio.run(consume_astream())
    if operation == "embed":
        return model.embed(*args, **kwargs).model
    return asyncio.run(model.aembed(*args, **kwargs)).model


OPERATIONS = ["generate", "agenerate", "stream", "astream", "embed", "aembed"]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_route_is_called_like_an_alias(operation, endpoints, make_client, calls):
    """client.model(route) answers every operation; its audit record names the route, the
    version that served the call, why it was chosen and the weight bucket."""
    primary, secondary = _pair(endpoints)
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE})
    model = client.model("support")
    assert isinstance(model, RoutedModel) and client.routes == ["support"]
    answer = run(model, operation, "hello", metadata={"user": "u-1"})
    assert "primary" in answer and not secondary.seen
    (call,) = calls(client)
    assert call["model"] == "primary" and call["version"] == "primary@1" and call["outcome"] == "ok"
    route = call["route"]
    assert route["name"] == "support" and route["why"] == "sticky:user"
    assert 0 <= route["bucket"] < 10_000 and route["hop"] == 1 and route["weights"] == "primary=1"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_failover_on_unavailable_reaches_the_secondary(operation, endpoints, make_client, calls, fail):
    """A 503 on the primary moves the call to the fallback; both hops are audited, linked
    by the route's call id, the second saying why."""
    primary, secondary = _pair(endpoints)
    primary.failures.append(fail("primary"))
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE})
    answer = run(client.model("support"), operation, "hello", metadata={"user": "u-1"})
    assert "secondary" in answer
    kinds = [r["kind"] for r in client.trust.sink.records]
    assert kinds == ["intent", "outcome", "intent", "outcome"]  # one intent and one outcome per hop
    first, second = calls(client)
    assert (first["model"], first["outcome"], first["error_type"]) == ("primary", "error", "Unavailable")
    assert (second["model"], second["outcome"], second["version"]) == ("secondary", "ok", "secondary@1")
    assert first["route"]["call_id"] == second["route"]["call_id"]
    assert second["route"]["why"] == "fallback" and second["route"]["hop"] == 2
    assert second["route"]["fallback_from"] == "primary" and second["route"]["fallback_reason"] == "Unavailable 503"


def test_errors_not_listed_in_fallback_on_are_raised(endpoints, make_client):
    primary, secondary = _pair(endpoints)
    primary.failures.append(BadRequest("prompt too long", provider="fake", status_code=400))
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE})
    with pytest.raises(BadRequest):
        client.model("support").generate("hello")
    assert not secondary.seen


def test_fallback_on_is_configurable(endpoints, make_client):
    primary, secondary = _pair(endpoints)
    primary.failures.append(Timeout("read timeout", provider="fake"))
    # A Timeout was received by its endpoint (it may still be generating): failing over on
    # it sends the request twice, which the route must allow (retry_sent_requests).
    retry = {"max_attempts": 1, "retry_sent_requests": True}
    routes = {"support": {**ROUTE, "fallback_on": ["Timeout"], "retry": retry}}
    client = make_client({"primary": primary, "secondary": secondary}, routes)
    assert client.model("support").generate("hi").text.startswith("secondary")
    primary.failures.append(Unavailable("503", provider="fake"))
    with pytest.raises(Unavailable):  # no longer a fallback error for this route
        client.model("support").generate("hi")


def test_one_deadline_is_shared_by_every_hop(endpoints, make_client):
    """The fallback hop is sent with what is left of the route's deadline."""
    primary, secondary = _pair(endpoints)

    def slow_failure(request):
        time.sleep(0.3)
        raise Unavailable("503 after a while", provider="fake")

    primary.handle_generate = slow_failure  # type: ignore[method-assign]
    routes = {"support": {**ROUTE, "deadline": 2.0}}
    client = make_client({"primary": primary, "secondary": secondary}, routes)
    client.model("support").generate("hi")
    (sent,) = secondary.seen
    assert sent.timeout is not None and sent.timeout <= 1.7 + 0.05


def test_no_hop_starts_after_the_deadline(endpoints, make_client):
    primary, secondary = _pair(endpoints)

    def slow_failure(request):
        time.sleep(0.25)
        raise Unavailable("503 after a while", provider="fake")

    primary.handle_generate = slow_failure  # type: ignore[method-assign]
    client = make_client({"primary": primary, "secondary": secondary}, {"support": {**ROUTE, "deadline": 0.2}})
    with pytest.raises(Unavailable):
        client.model("support").generate("hi")
    assert not secondary.seen


@pytest.mark.parametrize("operation", ["stream", "astream"])
def test_a_stream_that_sent_an_event_is_never_replayed(operation, endpoints, make_client, calls):
    """The primary fails after its first event: the caller gets the failure, the
    secondary is never asked."""
    primary, secondary = _pair(endpoints)
    primary.stream_fail_after = 1
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE})
    model = client.model("support")
    received = []

    async def consume():
        async for event in model.astream("hello"):
            received.append(event)

    with pytest.raises(Unavailable, match="dropped the stream"):
        if operation == "stream":
            for event in model.stream("hello"):
                received.append(event)
        else:
            asyncio.run(consume())
    assert [e.text for e in received] == ["primary:"]
    assert not secondary.seen
    (call,) = calls(client)
    assert call["model"] == "primary" and call["outcome"] == "error"


@pytest.mark.parametrize("operation", ["stream", "astream"])
def test_a_stream_that_failed_before_its_first_event_fails_over(operation, endpoints, make_client, fail):
    primary, secondary = _pair(endpoints)
    primary.failures.append(fail("primary"))
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE})
    assert run(client.model("support"), operation, "hello").startswith("secondary:")


def test_a_hop_refused_at_call_time_is_skipped_and_audited(endpoints, make_client, calls, fail):
    """The fallback moved to us-east-1 after the Client was built: its gate refuses the hop
    before anything is sent, the audit says so, and the caller gets the primary's error."""
    primary, secondary = _pair(endpoints)
    primary.failures.append(fail("primary"))
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE})
    secondary.move_to("us-east-1")
    with pytest.raises(Unavailable):
        client.model("support").generate("hello")
    assert not secondary.seen
    _, second = calls(client)
    assert second["model"] == "secondary" and second["outcome"] == "blocked" and second["sent"] is False
    assert second["rule"] == "allowed_jurisdictions" and second["route"]["why"] == "fallback"


def test_the_route_policy_refuses_a_target_whose_own_policy_is_wider(endpoints, make_client, calls, fail):
    """A target allowed anywhere by its own trust table is still held to the route's policy:
    the route step refuses it at call time (rule route.allowed_jurisdictions)."""
    from byom_sdk import Client
    from byom_sdk.testing import isolated_registry

    primary, secondary = _pair(endpoints)
    models = {"primary": primary, "secondary": secondary}
    with isolated_registry() as registry:
        client = Client(
            models=models,
            routes={"support": {**ROUTE, "trust": {"allowed_regions": ["eu-west-1", "eu-central-1"]}}},
            policy={"audit": {"sink": "memory"}},
            retry={"max_attempts": 1},
            registry=registry,
        )
        try:
            primary.failures.append(fail("primary"))
            secondary.move_to("eu-north-1")  # fine for the client policy (none), not the route's
            with pytest.raises(Unavailable):
                client.model("support").generate("hello")
            blocked = calls(client)[-1]
            assert blocked["outcome"] == "blocked" and blocked["rule"] == "route.allowed_regions"
            assert any(d["rule"] == "route.allowed_regions" for d in blocked["decisions"])
            assert not secondary.seen
        finally:
            client.close()


def test_a_refused_primary_is_served_by_the_allowed_fallback(endpoints, make_client, calls):
    primary, secondary = _pair(endpoints)
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE})
    primary.move_to("us-east-1")
    assert client.model("support").generate("hi").text.startswith("secondary")
    refused, served = calls(client)
    assert refused["outcome"] == "blocked" and not primary.seen
    assert served["route"]["fallback_reason"] == "refused (allowed_jurisdictions)"


def test_content_refusals_are_not_retried_elsewhere(endpoints, make_client):
    """Masking in refuse mode refuses the content itself: no other target is tried."""
    primary, secondary = _pair(endpoints)
    policy = {"audit": {"sink": "memory"}, "allowed_jurisdictions": ["EU"], "masking": {"mode": "refuse"}}
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE}, policy=policy)
    with pytest.raises(PolicyViolation, match="masking"):
        client.model("support").generate("mail jane.doe@example.com")
    assert not primary.seen and not secondary.seen


def test_every_hop_is_masked(endpoints, make_client, fail):
    primary, secondary = _pair(endpoints)
    primary.failures.append(fail("primary"))
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE})
    reply = client.model("support").generate("write to jane.doe@example.com")
    for endpoint in (primary, secondary):
        (sent,) = endpoint.seen
        assert "jane.doe@example.com" not in sent.as_messages()[-1].content
    assert "jane.doe@example.com" in reply.text  # the placeholder is restored for the caller
