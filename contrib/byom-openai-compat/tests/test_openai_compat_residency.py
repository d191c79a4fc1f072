"""openai-compat residency from ``base_url``'s host and scheme, refused before any socket.

A self-declared ``location_kind`` no longer exempts a remote plain-HTTP host from the
region and TLS rules; a custom host, a bare IP and a loopback server without
``allow_loopback`` are refused with ``PolicyViolation`` while a socket guard records every
lookup and connection attempt (none may happen), and the audit names host and rule.
"""

from __future__ import annotations

import ipaddress
import socket
import warnings

import pytest
from byom_openai_compat import OpenAICompatConfig, OpenAICompatModel

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
def sockets(monkeypatch):
    attempts: list[tuple[str, object]] = []
    real_connect, real_lookup, real_create = socket.socket.connect, socket.getaddrinfo, socket.create_connection

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

    def create_connection(address, *args, **kwargs):
        attempts.append(("create_connection", address))
        if _loopback(address[0]):
            return real_create(address, *args, **kwargs)
        raise AssertionError(f"create_connection to {address!r} attempted")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return attempts


def entry(base_url, **overrides):
    values = {"provider": "openai-compat", "base_url": base_url, "model": "scripted", "api": "completions"}
    values.update(overrides)
    return values


REFUSED = [
    # (id, model entry overrides, policy, refused rule, resolved host)
    (
        "remote-plain-http-self-declared-process",
        {"base_url": "http://llm.example.net:8000/v1", "location_kind": "process"},
        {"audit": {"sink": "memory"}, "allowed_regions": ["eu-*"]},
        "allowed_regions",
        "llm.example.net:8000",
    ),
    (
        "remote-plain-http-no-region-policy",
        {"base_url": "http://llm.example.net:8000/v1"},
        {"audit": {"sink": "memory"}, "allowed_location_kinds": ["process", "customer-cloud", "third-party"]},
        "require_tls",
        "llm.example.net:8000",
    ),
    (
        "custom-host",
        {"base_url": "https://llm-proxy.corp.example/v1"},
        EU,
        "allowed_jurisdictions",
        "llm-proxy.corp.example",
    ),
    ("bare-ip", {"base_url": "https://10.20.30.40:8443/v1"}, EU, "allowed_jurisdictions", "10.20.30.40:8443"),
    (
        "azure-ml-in-the-uk",
        {"base_url": "https://chat.uksouth.inference.ml.azure.com/v1"},
        EU,
        "allowed_jurisdictions",
        "chat.uksouth.inference.ml.azure.com",
    ),
    (
        "declared-region-the-host-contradicts",
        {"base_url": "https://chat.eastus.inference.ml.azure.com/v1", "region": "westeurope"},
        EU,
        "destination",
        "chat.eastus.inference.ml.azure.com",
    ),
    (
        "userinfo-in-the-url",
        {"base_url": "https://user:s3cret@llm-proxy.corp.example/v1"},
        EU,
        "allowed_jurisdictions",
        "llm-proxy.corp.example",
    ),
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("operation", ["generate", "stream"])
@pytest.mark.parametrize("overrides,policy,rule,host", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused_before_a_socket_opens(sockets, overrides, policy, rule, host, operation):
    with byom_sdk.Client(models={"m": entry(**overrides)}, policy=policy) as client:
        with pytest.raises(byom_sdk.PolicyViolation) as info:
            if operation == "stream":
                list(client.model("m").stream("hello ann@example.com"))
            else:
                client.model("m").generate("hello ann@example.com")
        assert sockets == []
        assert info.value.rule == rule and host in str(info.value)
        [record] = [r for r in client.trust.sink.records if r.get("outcome") == "blocked"]
        assert record["rule"] == rule and record["boundary"]["host"] == host
        assert "s3cret" not in str(record) and "s3cret" not in str(info.value)
        [decision] = [d for d in record["decisions"] if d["rule"] == rule]
        assert decision["result"] == "violation" and host in decision["detail"]


def test_loopback_needs_allow_loopback(openai_server, sockets):
    settings = entry(openai_server.base_url, location_kind="process")
    host = openai_server.base_url.split("://", 1)[1].split("/", 1)[0]
    with byom_sdk.Client(models={"m": settings}, policy={"audit": {"sink": "memory"}}) as client:
        with pytest.raises(byom_sdk.PolicyViolation) as info:
            client.model("m").generate("hi")
        assert info.value.rule == "allow_loopback" and host in str(info.value)
    assert sockets == []
    with byom_sdk.Client(
        models={"m": settings}, policy={"audit": {"sink": "memory"}, "allow_loopback": True}
    ) as client:
        assert client.model("m").generate("hi").text
        [record] = [r for r in calls_of(client.trust.sink.records) if r.get("outcome") == "ok"]
        assert {d["rule"]: d["result"] for d in record["decisions"]}["allow_loopback"] == "pass"


def test_a_trusted_endpoint_is_admitted():
    config = OpenAICompatConfig(base_url="https://llm.internal.example/v1", model="m", region="eu-west-1")
    with OpenAICompatModel(config) as model:
        boundary = model.info.boundary
    assert boundary.location_kind == "third-party" and boundary.host == "llm.internal.example"
    trusted = validate_policy(
        {
            **EU,
            "trusted_endpoints": [
                {"host": "llm.internal.example", "region": "eu-west-1", "location_kind": "customer-cloud"}
            ],
        },
        source="t",
    )
    assert [d for d in check_boundary(boundary, trusted) if d.result == "violation"] == []


def test_a_cloud_host_is_customer_cloud_in_its_region():
    config = OpenAICompatConfig(base_url="https://chat.westeurope.inference.ml.azure.com/v1", model="m")
    with OpenAICompatModel(config) as model:
        boundary = model.info.boundary
    assert (boundary.location_kind, boundary.cloud, boundary.tls) == ("customer-cloud", "azure", True)
    assert [d for d in check_boundary(boundary, validate_policy(EU, source="t")) if d.result == "violation"] == []


@pytest.mark.parametrize(
    "url,declared,derived",
    [
        ("https://llm.example.net/v1", "customer-cloud", "third-party"),
        ("http://llm.example.net/v1", "process", "third-party"),
        ("https://chat.westeurope.inference.ml.azure.com/v1", "third-party", "customer-cloud"),
    ],
)
def test_self_declared_location_kind_is_deprecated_for_remote_hosts(url, declared, derived):
    with pytest.warns(DeprecationWarning, match="location_kind"):
        model = OpenAICompatModel(OpenAICompatConfig(base_url=url, model="m", location_kind=declared))
    model.close()
    assert model.info.boundary.location_kind == derived


def test_location_kind_is_kept_for_loopback_and_silent_when_unset():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with OpenAICompatModel(
            OpenAICompatConfig(base_url="http://127.0.0.1:9/v1", model="m", location_kind="process")
        ) as local:
            assert local.info.boundary.location_kind == "process"
        with OpenAICompatModel(OpenAICompatConfig(base_url="https://llm.example.net/v1", model="m")) as remote:
            assert remote.info.boundary.location_kind == "third-party"


@pytest.mark.parametrize(
    "base_url",
    [
        "http://user:hunter2@127.0.0.1:9/v1?api_key=sk-SECRET",  # paths are appended: a query would precede them
        "http://127.0.0.1:9/v1#sk-SECRET",
    ],
)
def test_base_url_with_a_query_or_fragment_is_refused_without_echoing_secrets(base_url):
    with pytest.raises(byom_sdk.ConfigError) as caught:
        byom_sdk.Client(models={"m": {"provider": "openai-compat", "base_url": base_url, "model": "m"}})
    message = str(caught.value)
    assert "no query or fragment" in message and "base_url" in message
    assert "hunter2" not in message and "sk-SECRET" not in message


PROXY_VARS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
def test_a_loopback_url_behind_a_remote_http_proxy_is_refused_before_a_socket_opens(
    openai_server, sockets, monkeypatch, variable
):
    """httpx sends a plain-HTTP base_url through the environment's proxy, which reads the
    whole prompt: the proxy is the destination, and allow_loopback does not cover it."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "http://10.9.9.9:3128")
    policy = {**EU, "allow_loopback": True}
    with byom_sdk.Client(models={"m": entry(openai_server.base_url)}, policy=policy) as client:
        with pytest.raises(byom_sdk.PolicyViolation) as info:
            client.model("m").generate("hello ann@example.com")
        assert sockets == []
        assert info.value.rule == "allowed_jurisdictions" and "10.9.9.9:3128" in str(info.value)
        [record] = [r for r in client.trust.sink.records if r.get("outcome") == "blocked"]
        assert record["boundary"]["host"] == "10.9.9.9:3128"
        assert record["boundary"]["network_path"] == "http-proxy"


def test_no_proxy_keeps_a_loopback_url_on_this_machine(openai_server, sockets, monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    policy = {**EU, "allow_loopback": True, "audit": {"sink": "memory"}}
    with byom_sdk.Client(models={"m": entry(openai_server.base_url, region="eu-west-1")}, policy=policy) as client:
        assert client.model("m").generate("hi").text
