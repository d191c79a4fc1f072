"""Route edges an independent review found: a Timeout or a SchemaError is not sent to the
fallback (the first target received the request; the second would be asked the same), a
sticky key that is not valid Unicode is the call's BadRequest, draws never touch the
application's random state, and route config that reads as applied but is not (masking in a
route's trust table, a date without a time zone, weights as booleans or past any sum, a
zero deadline) is a ConfigError naming the field."""

from __future__ import annotations

import random

import pytest

from byom_sdk import BadRequest, Client, ConfigError, SchemaError, Timeout
from byom_sdk.testing import ScriptedModel


def test_a_timeout_is_not_sent_to_the_fallback(make_client, endpoints):
    """A Timeout is a request sent and not answered in time: the first endpoint may still be
    generating it; another target would generate (and bill) it twice."""
    primary, secondary = endpoints("primary"), endpoints("secondary")
    primary.failures = [Timeout("no answer within the read timeout", provider="fake")]
    route = {"targets": ["primary"], "fallback": ["secondary"], "fallback_on": ["Timeout"]}
    client = make_client({"primary": primary, "secondary": secondary}, {"r": route})
    with pytest.raises(Timeout):
        client.model("r").generate("hi")
    assert len(primary.seen) == 1 and secondary.seen == []


def test_a_schema_error_is_not_sent_to_the_fallback():
    """The answer broke the request's schema: it is raised (docs), not asked of another
    target, even with ModelError (its parent class) in fallback_on."""
    a = ScriptedModel(["not json at all"], model_id="a")
    b = ScriptedModel(['{"x": 1}'], model_id="b")
    route = {"targets": ["a"], "fallback": ["b"], "fallback_on": ["ModelError", "Unavailable"]}
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    client = Client(models={"a": a, "b": b}, routes={"r": route}, trust="off")
    with client, pytest.raises(SchemaError) as caught:
        client.model("r").generate(
            "x?", response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}
        )
    assert "not JSON" in str(caught.value)
    assert b.requests == []


@pytest.mark.parametrize("operation", ["generate", "stream", "embed"])
def test_a_sticky_key_that_is_not_valid_unicode_is_the_calls_bad_request(make_client, endpoints, operation):
    route = {"targets": ["a", "b"], "sticky": "user"}
    client = make_client({"a": endpoints("a"), "b": endpoints("b")}, {"r": route})
    model = client.model("r")
    with pytest.raises(BadRequest, match=r"metadata\.user"):
        if operation == "generate":
            model.generate("hi", metadata={"user": "\ud800"})
        elif operation == "stream":
            list(model.stream("hi", metadata={"user": "\ud800"}))
        else:
            model.embed(["hi"], metadata={"user": "\ud800"})


def test_weighted_draws_leave_the_applications_random_state_alone(make_client, endpoints):
    # Spans off: an OpenTelemetry SDK another test installed draws its ids from the global
    # random state, which is the SDK's business, not the route's.
    policy = {"audit": {"sink": "memory"}, "allowed_jurisdictions": ["EU"], "telemetry": {"enabled": False}}
    client = make_client({"a": endpoints("a"), "b": endpoints("b")}, {"r": {"targets": ["a", "b"]}}, policy=policy)
    model = client.model("r")
    random.seed(1234)
    expected = random.random()
    random.seed(1234)
    for _ in range(20):
        model.generate("hi")
    assert random.random() == expected


@pytest.mark.parametrize(
    ("route", "field"),
    [
        ({"trust": {"masking": {"mode": "redact"}}}, "routes.r.trust.masking"),
        ({"trust": {"scoring": {"block": {"injection": 0.5}}}}, "routes.r.trust.scoring"),
        ({"canary": {"target": "b", "start": __import__("datetime").date(2026, 1, 1), "ramp": []}}, "canary.start"),
        ({"weights": [True, False]}, "routes.r.weights"),
        ({"weights": [1e308, 1e308]}, "routes.r.weights"),
        ({"deadline": 0}, "routes.r.deadline"),
    ],
)
def test_route_settings_that_would_not_apply_are_a_config_error(endpoints, route, field):
    models = {"a": endpoints("a"), "b": endpoints("b")}
    with pytest.raises(ConfigError) as caught:
        Client(models=models, routes={"r": {"targets": ["a", "b"], **route}}, policy={"audit": {"sink": "memory"}})
    assert field in str(caught.value)
