"""Circuit breakers per target: open after consecutive fallback errors, one probe after the
cooldown, closed again by a success; Retry-After lengthens a cooldown, never shortens it."""

from __future__ import annotations

import asyncio

import pytest

from byom_sdk import Unavailable
from byom_sdk.routing import Circuit, CircuitConfig

ROUTE = {
    "targets": ["primary"],
    "fallback": ["secondary"],
    "circuit": {"failures": 2, "cooldown": 10},
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_states_closed_open_half_open_closed():
    clock = Clock()
    circuit = Circuit("a", CircuitConfig(failures=3, cooldown=5), clock=clock)
    assert circuit.admit() == "closed"
    circuit.failed()
    circuit.failed()
    assert circuit.state == "closed"
    circuit.failed()
    assert circuit.state == "open" and circuit.admit() is None
    clock.now += 5
    assert circuit.admit() == "probe"
    assert circuit.admit() is None  # one probe at a time
    circuit.succeeded()
    assert circuit.state == "closed" and circuit.admit() == "closed"
    assert (circuit.opened, circuit.closed) == (1, 1)


def test_a_failed_probe_reopens_and_a_cancelled_one_frees_the_slot():
    clock = Clock()
    circuit = Circuit("a", CircuitConfig(failures=1, cooldown=5), clock=clock)
    circuit.failed()
    clock.now += 5
    assert circuit.admit() == "probe"
    circuit.released()
    assert circuit.admit() == "probe"
    circuit.failed()
    assert circuit.state == "open" and circuit.status()["reopens_in"] == 5.0


def test_retry_after_lengthens_but_never_shortens_a_cooldown():
    clock = Clock()
    circuit = Circuit("a", CircuitConfig(failures=1, cooldown=5, max_cooldown=60), clock=clock)
    circuit.failed(retry_after=40)
    assert circuit.status()["reopens_in"] == 40.0
    circuit.failed(retry_after=1)  # a later, shorter hint keeps the running cooldown
    assert circuit.status()["reopens_in"] == 40.0
    circuit.failed(retry_after=1000)
    assert circuit.status()["reopens_in"] == 60.0  # capped by max_cooldown


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_storm_opens_the_circuit_and_a_probe_closes_it(mode, endpoints, make_client, calls, fail):
    primary, secondary = endpoints("primary", "eu-west-1"), endpoints("secondary", "eu-central-1")
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE})
    route = client.model("support")
    clock = Clock()
    route.circuits["primary"].clock = clock

    def call() -> str:
        if mode == "sync":
            return route.generate("hi").text
        return asyncio.run(route.agenerate("hi")).text

    primary.failures.extend(fail("primary") for _ in range(50))  # the storm
    assert [call().split(":")[0] for _ in range(6)] == ["secondary"] * 6
    assert len(primary.seen) == 2  # two failures opened it; then it was skipped
    assert route.status()["targets"][0]["circuit"]["state"] == "open"
    skipped = calls(client)[-1]
    assert skipped["model"] == "secondary" and skipped["route"]["skipped"] == {"primary": "circuit open"}
    primary.failures.clear()  # the storm is over
    clock.now += 10
    assert call().startswith("primary")  # the probe
    assert route.circuits["primary"].state == "closed"
    assert call().startswith("primary")


def test_every_circuit_open_fails_fast_and_is_audited(endpoints, make_client, calls, fail):
    primary, secondary = endpoints("primary", "eu-west-1"), endpoints("secondary", "eu-central-1")
    client = make_client({"primary": primary, "secondary": secondary}, {"support": ROUTE})
    route = client.model("support")
    for endpoint in (primary, secondary):
        endpoint.failures.extend(fail(endpoint.name) for _ in range(10))
    for _ in range(2):
        with pytest.raises(Unavailable):
            route.generate("hi")
    sent = len(primary.seen) + len(secondary.seen)
    with pytest.raises(Unavailable, match="circuit of every target is open") as caught:
        route.generate("hi")
    assert caught.value.code == "circuit_open" and caught.value.retry_after
    assert len(primary.seen) + len(secondary.seen) == sent
    refused = calls(client)[-1]
    assert refused["sent"] is False and refused["error_code"] == "circuit_open"
    assert refused["route"]["why"] == "circuit open"
