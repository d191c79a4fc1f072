"""Vertex residency on the API host the gRPC and REST clients use, refused before any socket.

The location in the resource path must agree with the host: an ``api_endpoint`` or a
dedicated endpoint DNS name in another region, the ``global`` host, a Private Service
Connect IP or a custom host the policy does not vouch for, and a loopback server without
``allow_loopback`` are all refused with ``PolicyViolation`` while every Python socket call
and every gRPC channel construction is recorded: none may happen.
"""

from __future__ import annotations

import ipaddress
import socket

import grpc
import grpc.aio
import pytest
from byom_vertex import VertexConfig, VertexModel
from byom_vertex.testing import LocalVertexServer

import byom_sdk
from byom_sdk.trust import calls_of, check_boundary
from byom_sdk.trust._policy import validate_policy

EU = {"allowed_jurisdictions": ["EU"], "audit": {"sink": "memory"}}


def _loopback(host) -> bool:
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


@pytest.fixture
def egress(monkeypatch):
    """Every lookup, connection and gRPC channel; only loopback sockets go through."""
    attempts: list[tuple[str, object]] = []
    real_connect, real_lookup = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):
        attempts.append(("connect", address))
        if isinstance(address, tuple) and _loopback(address[0]):
            return real_connect(sock, address)
        raise AssertionError(f"connect to {address!r} attempted")

    def getaddrinfo(host, *args, **kwargs):
        attempts.append(("getaddrinfo", host))
        if _loopback(host):
            return real_lookup(host, *args, **kwargs)
        raise AssertionError(f"DNS lookup of {host!r} attempted")

    def channel(kind, real):
        def make(target, *args, **kwargs):
            attempts.append((kind, target))
            return real(target, *args, **kwargs)

        return make

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: attempts.append(("create", address)))
    for name in ("secure_channel", "insecure_channel"):
        monkeypatch.setattr(grpc, name, channel(f"grpc.{name}", getattr(grpc, name)))
        monkeypatch.setattr(grpc.aio, name, channel(f"grpc.aio.{name}", getattr(grpc.aio, name)))
    return attempts


def config(**overrides):
    values = {
        "provider": "vertex",
        "project": "acme",
        "location": "europe-west4",
        "endpoint_id": "1234567890",
        "codec": "vllm",
        "credentials": {"kind": "anonymous"},
    }
    values.update(overrides)
    return values


def model(**overrides) -> VertexModel:
    values = config(**overrides)
    values.pop("provider")
    return VertexModel(VertexConfig(**values))


REDIRECTS = [
    # (id, config overrides, refused rule, resolved host)
    (
        "api_endpoint-in-another-region",
        {"api_endpoint": "us-central1-aiplatform.googleapis.com"},
        "destination",
        "us-central1-aiplatform.googleapis.com",
    ),
    (
        "dedicated-dns-in-another-region",
        {"dedicated_endpoint_dns": "1234567890.us-central1-55.prediction.vertexai.goog"},
        "destination",
        "1234567890.us-central1-55.prediction.vertexai.goog",
    ),
    ("global-location", {"location": "global"}, "allowed_jurisdictions", "aiplatform.googleapis.com"),
    ("uk-location", {"location": "europe-west2"}, "allowed_jurisdictions", "europe-west2-aiplatform.googleapis.com"),
    ("psc-ip", {"api_endpoint": "10.20.0.5:443"}, "allowed_jurisdictions", "10.20.0.5:443"),
    (
        "custom-host",
        {"api_endpoint": "vertex-proxy.corp.example:443"},
        "allowed_jurisdictions",
        "vertex-proxy.corp.example:443",
    ),
    (
        "multi-region-host-under-a-regional-path",
        {"api_endpoint": "aiplatform.eu.rep.googleapis.com"},
        "destination",
        "aiplatform.eu.rep.googleapis.com",
    ),
]


@pytest.mark.parametrize("transport", ["grpc", "rest"])
@pytest.mark.parametrize("overrides,rule,host", [r[1:] for r in REDIRECTS], ids=[r[0] for r in REDIRECTS])
def test_redirected_destination_is_refused_before_a_socket_opens(egress, overrides, rule, host, transport):
    if transport == "rest" and "api_endpoint" in overrides:
        overrides = {**overrides, "api_endpoint": f"https://{overrides['api_endpoint']}"}
    with byom_sdk.Client(models={"m": config(transport=transport, **overrides)}, policy=EU) as client:
        with pytest.raises(byom_sdk.PolicyViolation) as info:
            client.model("m").generate("hello ann@example.com")
        assert egress == []  # no lookup, no connection, no gRPC channel
        assert info.value.rule == rule and host in str(info.value)
        [record] = [r for r in client.trust.sink.records if r.get("outcome") == "blocked"]
        assert record["rule"] == rule and record["boundary"]["host"] == host
        [decision] = [d for d in record["decisions"] if d["rule"] == rule]
        assert decision["result"] == "violation" and host in decision["detail"]


def test_the_contradiction_names_the_path_location_and_the_host(egress):
    with (
        byom_sdk.Client(
            models={"m": config(api_endpoint="us-central1-aiplatform.googleapis.com")},
            policy={"audit": {"sink": "memory"}},
        ) as client,
        pytest.raises(byom_sdk.PolicyViolation) as info,
    ):
        client.model("m").generate("hi")  # refused with no residency policy at all
    message = str(info.value)
    assert "'europe-west4'" in message and "'us-central1'" in message and egress == []


@pytest.mark.parametrize(
    "overrides,host",
    [
        ({}, "europe-west4-aiplatform.googleapis.com"),
        ({"transport": "rest"}, "europe-west4-aiplatform.googleapis.com"),
        ({"dedicated_endpoint_dns": "1234567890.europe-west4-55.prediction.vertexai.goog"}, None),
        ({"api_endpoint": "europe-west4-aiplatform.mtls.googleapis.com"}, None),
        ({"location": "eu", "api_endpoint": "aiplatform.eu.rep.googleapis.com"}, None),
    ],
)
def test_eu_hosts_pass_the_gate(egress, overrides, host):
    with model(**overrides) as m:
        boundary = m.info.boundary
        assert boundary.region_source == "destination" and boundary.cloud == "gcp"
        if host is not None:
            assert boundary.host == host
        decisions = check_boundary(boundary, validate_policy(EU, source="t"))
    assert [d for d in decisions if d.result == "violation"] == []
    assert egress == []  # building the model opens nothing


def test_a_psc_address_passes_when_trusted_for_its_location(egress):
    trusted = {**EU, "trusted_endpoints": [{"host": "10.20.0.0/16", "region": "europe-west4", "cloud": "gcp"}]}
    with model(api_endpoint="10.20.0.5:443") as m:
        decisions = check_boundary(m.info.boundary, validate_policy(trusted, source="t"))
        assert [d for d in decisions if d.result == "violation"] == []
        # Trusted for another location than the resource path: the path and host disagree.
        elsewhere = {**EU, "trusted_endpoints": [{"host": "10.20.0.5", "region": "europe-west1", "cloud": "gcp"}]}
        refused = [
            d
            for d in check_boundary(m.info.boundary, validate_policy(elsewhere, source="t"))
            if d.result == "violation"
        ]
        assert refused[0].rule == "destination" and "'europe-west4'" in refused[0].detail
    assert egress == []


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_loopback_needs_allow_loopback(egress, transport):
    with LocalVertexServer(location="europe-west4") as server:
        settings = server.model_config(transport=transport)
        with byom_sdk.Client(models={"m": settings}, policy=EU) as client:
            with pytest.raises(byom_sdk.PolicyViolation) as info:
                client.model("m").generate("hi")
            assert info.value.rule == "allow_loopback"
        assert egress == [] and server.count() == 0
        with byom_sdk.Client(models={"m": settings}, policy={**EU, "allow_loopback": True}) as client:
            assert client.model("m").generate("hi").text == "echo: hi"
            [record] = [r for r in calls_of(client.trust.sink.records) if r.get("outcome") == "ok"]
            assert {d["rule"]: d["result"] for d in record["decisions"]}["allow_loopback"] == "pass"
        assert server.count("predict") + server.count("rawPredict") >= 1


PROXY_VARS = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
    "grpc_proxy", "GRPC_PROXY", "NO_PROXY", "no_proxy", "no_grpc_proxy", "NO_GRPC_PROXY",
)  # fmt: skip


@pytest.mark.parametrize(
    "transport,variable",
    [("rest", "HTTP_PROXY"), ("rest", "ALL_PROXY"), ("grpc", "grpc_proxy"), ("grpc", "https_proxy")],
)
def test_a_loopback_server_behind_a_remote_proxy_is_refused_before_a_socket_opens(
    egress, monkeypatch, transport, variable
):
    """requests and gRPC send a plaintext loopback endpoint through the environment's
    proxy (gRPC's CONNECT tunnel carries a plaintext channel readable): the proxy is where
    the prompt goes, and allow_loopback does not cover it."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "http://10.9.9.9:3128")
    with LocalVertexServer(location="europe-west4") as server:
        settings = server.model_config(transport=transport)
        with byom_sdk.Client(models={"m": settings}, policy={**EU, "allow_loopback": True}) as client:
            with pytest.raises(byom_sdk.PolicyViolation) as info:
                client.model("m").generate("hello ann@example.com")
            assert egress == []
            assert info.value.rule == "allowed_jurisdictions" and "10.9.9.9:3128" in str(info.value)
            [record] = [r for r in client.trust.sink.records if r.get("outcome") == "blocked"]
            assert record["boundary"]["host"] == "10.9.9.9:3128"
        assert server.count() == 0


def test_a_tls_endpoint_behind_a_proxy_keeps_its_destination(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("grpc_proxy", "http://10.9.9.9:3128")
    for transport in ("grpc", "rest"):
        with model(transport=transport) as vertex:
            assert vertex.info.boundary.host == "europe-west4-aiplatform.googleapis.com"
