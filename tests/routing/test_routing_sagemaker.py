"""Routes over real SageMaker clients and local SageMaker endpoints on 127.0.0.1: the
variant header reaches the endpoint, sticky keys stay on one side, a 503 storm fails over
inside the jurisdiction only and the circuit opens and closes, a half-finished stream is
never replayed, a shadow copy arrives masked. (The full 10,000 real calls are in
bench/routing_overhead.py --sagemaker; the split itself is checked on the decision.)"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict

import pytest

from byom_sdk import Client, ConfigError, ModelError, Registry, Unavailable
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust._record import calls_of

pytest.importorskip("byom_sagemaker")
from byom_sagemaker.testing import LocalSageMakerServer

POLICY = {"audit": {"sink": "memory"}, "allow_loopback": True, "allowed_jurisdictions": ["EU"]}
FAST = {"max_attempts": 1, "deadline": 30}
VARIANT = "x-amzn-sagemaker-target-variant"


@pytest.fixture
def server():
    with LocalSageMakerServer(region="eu-west-1") as local:
        yield local


@pytest.fixture
def client_for():
    clients: list[Client] = []
    registry = Registry()  # entry points included, whatever another test did to the global one

    def build(models, routes):
        client = Client(models=models, routes=routes, policy=POLICY, retry=FAST, registry=registry)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def _prompt_user(body: bytes) -> str:
    return json.loads(body)["inputs"].rsplit(" ", 1)[-1]


def test_the_variant_header_reaches_the_endpoint_and_keys_stay_on_one_side(server, client_for):
    """300 real calls (100 users, three each, sync and async) over a 90/10 route: each
    request carries its target's TargetVariant, each user stays on one endpoint, and that
    endpoint is the one the decision function names."""
    server.add_endpoint("support-a", "tgi", ScriptedModel(["ok"]), variants=("blue",))
    server.add_endpoint("support-b", "tgi", ScriptedModel(["ok"]), variants=("green",))
    models = {
        "support-blue": server.model_config("support-a", target_variant="blue"),
        "support-green": server.model_config("support-b", target_variant="green"),
    }
    route = {"targets": ["support-blue", "support-green"], "weights": [90, 10], "sticky": "user"}
    client = client_for(models, {"support": route})
    model = client.model("support")
    assert client.model("support-blue").info.version == "blue"
    users = [f"user-{i}" for i in range(100)]

    async def async_round():
        for user in users:
            await model.agenerate(f"hello {user}", metadata={"user": user})

    for user in users:
        model.generate(f"hello {user}", metadata={"user": user})
    asyncio.run(async_round())
    for user in users:
        model.generate(f"hello {user}", metadata={"user": user})

    seen: dict[str, set[str]] = defaultdict(set)
    for request in server.requests:
        assert request.header(VARIANT) == {"support-a": "blue", "support-b": "green"}[request.endpoint]
        seen[_prompt_user(request.body)].add(request.endpoint)
    assert len(server.requests) == 300
    expected = {u: "support-a" if model.choose({"user": u}).target == "support-blue" else "support-b" for u in users}
    assert {u: next(iter(e)) for u, e in seen.items()} == expected and all(len(e) == 1 for e in seen.values())
    assert 0 < Counter(expected.values())["support-b"] < 30  # about 10 of 100
    versions = {c["version"] for c in calls_of(client.trust.sink.records)}  # type: ignore[attr-defined]
    assert versions == {"blue", "green"}


def _storm_setup(server, client_for):
    for name in ("primary", "secondary", "us-backup", "eu-spare"):
        server.add_endpoint(name, "tgi", ScriptedModel([f"from {name}"]))
    models = {
        "primary": server.model_config("primary", region="eu-west-1"),
        "secondary": server.model_config("secondary", region="eu-central-1"),
        # allowed for its own (US) callers by its own trust table, never for the EU route
        "us-backup": {
            **server.model_config("us-backup", region="us-east-1"),
            "trust": {"allowed_jurisdictions": ["US"]},
        },
        "eu-spare": server.model_config("eu-spare", region="eu-north-1"),
    }
    route = {
        "targets": ["primary"],
        "fallback": ["secondary", "eu-spare"],
        "circuit": {"failures": 3, "cooldown": 30},
    }
    return client_for(models, {"support": route})


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_503_storm_fails_over_inside_the_jurisdiction_and_the_circuit_recovers(mode, server, client_for):
    client = _storm_setup(server, client_for)
    route = client.model("support")
    now = [0.0]
    route.circuits["primary"].clock = lambda: now[0]
    assert client.model("us-backup").generate("hi").text == "from us-backup"  # usable on its own
    server.clear()

    def call() -> str:
        if mode == "sync":
            return route.generate("hi").text
        return asyncio.run(route.agenerate("hi")).text

    server.inject("unavailable", times=10_000, endpoint="primary")
    answers = Counter(call() for _ in range(20))
    assert answers == {"from secondary": 20}
    hits = Counter(r.endpoint for r in server.requests)
    assert hits == {"primary": 3, "secondary": 20}  # 3 failures opened the circuit; never us-backup
    assert route.circuits["primary"].state == "open"
    server.clear()  # the storm ends
    now[0] += 31
    assert call() == "from primary"  # the probe closes the circuit
    assert call() == "from primary" and route.circuits["primary"].state == "closed"
    regions = {c["model"]: c["region"] for c in calls_of(client.trust.sink.records)}  # type: ignore[attr-defined]
    assert regions["secondary"] == "eu-central-1" and all(
        r.startswith("eu-") for m, r in regions.items() if m != "us-backup"
    )


def test_a_fallback_that_left_the_jurisdiction_is_refused_at_call_time(server, client_for):
    """eu-spare passed the load check; its boundary then says us-east-1 (as a re-verified
    boundary would): the hop is refused before anything is sent, and audited."""
    client = _storm_setup(server, client_for)
    route = client.model("support")
    spare = client.model("eu-spare").provider
    spare._info = spare.info.model_copy(  # type: ignore[attr-defined]
        update={"boundary": spare.info.boundary.model_copy(update={"region": "us-east-1"})}
    )
    server.inject("unavailable", times=100, endpoint="primary")
    server.inject("unavailable", times=100, endpoint="secondary")
    with pytest.raises(Unavailable):
        route.generate("hi")
    assert "eu-spare" not in {r.endpoint for r in server.requests}
    refused = calls_of(client.trust.sink.records)[-1]  # type: ignore[attr-defined]
    assert (refused["model"], refused["outcome"], refused["rule"]) == ("eu-spare", "blocked", "allowed_jurisdictions")


def test_a_route_with_a_fallback_in_another_jurisdiction_never_loads(server, client_for):
    server.add_endpoint("primary", "tgi")
    server.add_endpoint("us-backup", "tgi")
    models = {
        "primary": server.model_config("primary", region="eu-west-1"),
        "us-backup": {
            **server.model_config("us-backup", region="us-east-1"),
            "trust": {"allowed_jurisdictions": ["US"]},
        },
    }
    with pytest.raises(ConfigError, match=r"route 'support': fallback\[0\] 'us-backup' is outside the route's"):
        client_for(models, {"support": {"targets": ["primary"], "fallback": ["us-backup"]}})


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_half_finished_stream_is_not_replayed(mode, server, client_for):
    server.add_endpoint("primary", "tgi", ScriptedModel(["one two three four"]))
    server.add_endpoint("secondary", "tgi", ScriptedModel(["from secondary"]))
    models = {"primary": server.model_config("primary"), "secondary": server.model_config("secondary")}
    route = {"targets": ["primary"], "fallback": ["secondary"], "fallback_on": ["Unavailable", "ModelError"]}
    model = client_for(models, {"support": route}).model("support")
    server.inject("model_stream_error", endpoint="primary", after_parts=1)
    received: list[str] = []

    async def consume():
        async for event in model.astream("hi"):
            received.append(getattr(event, "text", ""))

    with pytest.raises((ModelError, Unavailable)):
        if mode == "sync":
            for event in model.stream("hi"):
                received.append(getattr(event, "text", ""))
        else:
            asyncio.run(consume())
    assert received and "".join(received)  # part of the answer arrived
    assert [r.endpoint for r in server.requests] == ["primary"]


def test_a_stream_refused_before_its_first_event_fails_over(server, client_for):
    server.add_endpoint("primary", "tgi")
    server.add_endpoint("secondary", "tgi", ScriptedModel(["from secondary"]))
    models = {"primary": server.model_config("primary"), "secondary": server.model_config("secondary")}
    model = client_for(models, {"support": {"targets": ["primary"], "fallback": ["secondary"]}}).model("support")
    server.inject("unavailable", endpoint="primary")
    assert "".join(getattr(e, "text", "") for e in model.stream("hi")) == "from secondary"


def test_a_shadow_copy_reaches_its_endpoint_masked(server, client_for):
    server.add_endpoint("live", "tgi", ScriptedModel(["done"]))
    server.add_endpoint("candidate", "tgi", ScriptedModel(["shadow answer"]))
    models = {"live": server.model_config("live"), "candidate": server.model_config("candidate", region="eu-central-1")}
    client = client_for(models, {"support": {"targets": ["live"], "shadow": {"target": "candidate"}}})
    model = client.model("support")
    assert model.generate("Call +44 20 7946 0958 about jane.doe@example.com").text == "done"
    assert model.shadows.wait(10)
    (copy,) = server.requests_for("candidate")
    assert b"jane.doe@example.com" not in copy.body and b"<EMAIL_" in copy.body
    shadow = next(c for c in calls_of(client.trust.sink.records) if c["route"].get("why") == "shadow")  # type: ignore[attr-defined]
    assert shadow["model"] == "candidate" and shadow["outcome"] == "ok" and shadow["entities"]["EMAIL"] == 1
