"""The boundary Vertex models report, as the core trust gate sees it: the ``global``
location is refused by a regional policy, and verified retention satisfies
``required_retention = "none"``; refused calls never reach the endpoint."""

from __future__ import annotations

import pytest
from byom_vertex.testing import LocalVertexServer

import byom_sdk


def test_global_location_is_refused_unless_the_policy_allows_it():
    with LocalVertexServer(location="global") as server:
        config = server.model_config()
        with byom_sdk.Client(
            models={"m": config}, policy={"allowed_regions": ["us-*", "europe-*"], "allow_loopback": True}
        ) as client:
            with pytest.raises(byom_sdk.PolicyViolation) as caught:
                client.model("m").generate("hi")
            assert caught.value.rule == "allowed_regions"
        assert server.count() == 0  # refused before any byte left
        with byom_sdk.Client(
            models={"m": config}, policy={"allowed_regions": ["global"], "allow_loopback": True}
        ) as client:
            assert client.model("m").generate("hi").text == "echo: hi"
        assert server.count("predict") == 1


def test_regional_endpoint_passes_a_regional_policy():
    with (
        LocalVertexServer(location="europe-west4") as server,
        byom_sdk.Client(
            models={"m": server.model_config()}, policy={"allowed_regions": ["europe-*"], "allow_loopback": True}
        ) as client,
    ):
        assert client.model("m").generate("hi").text == "echo: hi"


@pytest.mark.parametrize(("logging", "allowed"), [(False, True), (True, False)])
def test_required_retention_needs_verified_logging_off(logging, allowed):
    resource = {"predictRequestResponseLoggingConfig": {"enabled": logging, "samplingRate": 1.0}}
    with LocalVertexServer(endpoint_resource=resource) as server:
        policy = {"required_retention": "none", "allow_loopback": True}
        unverified = server.model_config()
        with (
            byom_sdk.Client(models={"m": unverified}, policy=policy) as client,
            pytest.raises(byom_sdk.PolicyViolation),
        ):
            client.model("m").generate("hi")  # retention unknown without verification
        verified = server.model_config(verify_boundary=True)
        with byom_sdk.Client(models={"m": verified}, policy=policy) as client:
            if allowed:
                assert client.model("m").generate("hi").text == "echo: hi"
            else:
                with pytest.raises(byom_sdk.PolicyViolation):
                    client.model("m").generate("hi")
        assert server.count("predict") == (1 if allowed else 0)
