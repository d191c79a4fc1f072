"""SageMaker residency on the destination botocore really resolved, refused before any socket.

Every redirect a config or environment can make — ``endpoint_url``, the
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` / ``AWS_ENDPOINT_URL`` variables, the AWS config
file's ``services`` section or profile ``endpoint_url``, a custom host, a bare IP, loopback
— is refused with ``PolicyViolation`` by an EU policy while a socket guard records every
DNS lookup and connection attempt: none may happen. The send guard pins each request to
the gated host after the gate, and fires before botocore opens a connection.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from byom_sagemaker import SageMakerConfig, SageMakerModel
from byom_sagemaker._boundary import DestinationChanged, install_send_guard

from byom_sdk import PolicyViolation
from byom_sdk.trust import calls_of

EU = {"allowed_jurisdictions": ["EU"], "audit": {"sink": "memory"}}
#: static keys: building a client with them resolves no credentials over the network.
CREDS = {"access_key_id": "AKIDBYOMTEST", "secret_access_key": "byom-test-secret"}


def _is_loopback(host) -> bool:
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


@pytest.fixture
def sockets(monkeypatch):
    """Record every name lookup and connection; only loopback ones go through."""
    attempts: list[tuple[str, object]] = []
    real_connect, real_lookup = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):
        attempts.append(("connect", address))
        if isinstance(address, tuple) and _is_loopback(address[0]):
            return real_connect(sock, address)
        raise AssertionError(f"connect to {address!r} attempted")

    def connect_ex(sock, address):
        attempts.append(("connect_ex", address))
        raise AssertionError(f"connect_ex to {address!r} attempted")

    def create_connection(address, *args, **kwargs):
        attempts.append(("create_connection", address))
        raise AssertionError(f"create_connection to {address!r} attempted")

    def getaddrinfo(host, *args, **kwargs):
        attempts.append(("getaddrinfo", host))
        if _is_loopback(host):
            return real_lookup(host, *args, **kwargs)
        raise AssertionError(f"DNS lookup of {host!r} attempted")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


@pytest.fixture(autouse=True)
def clean_aws_env(monkeypatch, tmp_path):
    """No endpoint, FIPS or profile setting of the machine may leak into a case."""
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "aws-config"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))


def config(**overrides):
    values = {
        "provider": "sagemaker",
        "endpoint_name": "ep",
        "region": "eu-west-1",
        "codec": "tgi",
        "credentials": CREDS,
    }
    values.update(overrides)
    return values


def aws_config_file(tmp_path, monkeypatch, text):
    path = tmp_path / "aws-config-redirect"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))


def call(client, operation):
    model = client.model("m")
    if operation == "stream":
        return list(model.stream("hello ann@example.com"))
    return model.generate("hello ann@example.com")


def assert_refused_and_audited(client, info, *, rule, host):
    assert info.value.rule == rule
    assert host in str(info.value)
    [record] = [r for r in client.trust.sink.records if r.get("outcome") == "blocked"]
    assert record["rule"] == rule and record["boundary"]["host"] == host
    [decision] = [d for d in record["decisions"] if d["rule"] == rule]
    assert decision["result"] == "violation" and host in decision["detail"]


REDIRECTS = [
    # (id, model config overrides, environment, AWS config file, refused rule, resolved host)
    (
        "endpoint_url-in-config",
        {"endpoint_url": "https://runtime.sagemaker.us-east-1.amazonaws.com"},
        {},
        None,
        "destination",
        "runtime.sagemaker.us-east-1.amazonaws.com",
    ),
    (
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
        {},
        {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "https://vpce-0abc-xyz.runtime.sagemaker.us-east-1.vpce.amazonaws.com"},
        None,
        "destination",
        "vpce-0abc-xyz.runtime.sagemaker.us-east-1.vpce.amazonaws.com",
    ),
    (
        "AWS_ENDPOINT_URL",
        {},
        {"AWS_ENDPOINT_URL": "https://runtime.sagemaker.ap-southeast-1.amazonaws.com"},
        None,
        "destination",
        "runtime.sagemaker.ap-southeast-1.amazonaws.com",
    ),
    (
        "config-file-services-section",
        {},
        {},
        "[default]\nservices = redirect\n\n[services redirect]\nsagemaker_runtime =\n"
        "  endpoint_url = https://runtime.sagemaker.us-east-1.amazonaws.com\n",
        "destination",
        "runtime.sagemaker.us-east-1.amazonaws.com",
    ),
    (
        "config-file-profile-endpoint_url",
        {},
        {},
        "[default]\nendpoint_url = https://10.1.2.3:8443\n",
        "allowed_jurisdictions",
        "10.1.2.3:8443",
    ),
    (
        "custom-host",
        {"endpoint_url": "https://llm-proxy.corp.example"},
        {},
        None,
        "allowed_jurisdictions",
        "llm-proxy.corp.example",
    ),
    ("bare-ip", {"endpoint_url": "https://10.20.30.40:8443"}, {}, None, "allowed_jurisdictions", "10.20.30.40:8443"),
    (
        "made-up-region",
        {"region": "eu-west-9"},
        {},
        None,
        "destination",
        "runtime.sagemaker.eu-west-9.amazonaws.com",
    ),
    (
        "uk-region-with-an-eu-prefix",
        {"region": "eu-west-2"},
        {},
        None,
        "allowed_jurisdictions",
        "runtime.sagemaker.eu-west-2.amazonaws.com",
    ),
]


@pytest.mark.parametrize("operation", ["generate", "stream"])
@pytest.mark.parametrize(
    "overrides,env,config_file,rule,host", [r[1:] for r in REDIRECTS], ids=[r[0] for r in REDIRECTS]
)
def test_redirected_destination_is_refused_before_a_socket_opens(
    make_client, sockets, monkeypatch, tmp_path, overrides, env, config_file, rule, host, operation
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if config_file is not None:
        aws_config_file(tmp_path, monkeypatch, config_file)
    client = make_client({"m": config(**overrides)}, policy=EU)
    with pytest.raises(PolicyViolation) as info:
        call(client, operation)
    assert sockets == []  # not even a DNS lookup
    assert_refused_and_audited(client, info, rule=rule, host=host)


def test_loopback_is_refused_without_allow_loopback(server, make_client, sockets):
    server.add_endpoint("ep", "tgi")
    client = make_client({"m": server.model_config("ep")}, policy=EU)
    with pytest.raises(PolicyViolation) as info:
        client.model("m").generate("hello")
    assert sockets == []
    host = server.url.split("://", 1)[1]
    assert_refused_and_audited(client, info, rule="allow_loopback", host=host)
    assert server.requests == []


def test_loopback_is_allowed_with_allow_loopback(server, make_client, sockets):
    server.add_endpoint("ep", "tgi")
    client = make_client({"m": server.model_config("ep")}, policy={**EU, "allow_loopback": True})
    assert client.model("m").generate("hello").text
    assert len(server.requests) == 1
    [record] = [r for r in calls_of(client.trust.sink.records) if r.get("outcome") == "ok"]
    decisions = {d["rule"]: d for d in record["decisions"]}
    assert decisions["allow_loopback"]["result"] == "pass"
    assert server.url.split("://", 1)[1] in decisions["allow_loopback"]["detail"]


def _model(**overrides) -> SageMakerModel:
    values = config(**overrides)
    values.pop("provider")
    return SageMakerModel(SageMakerConfig(**values))


@pytest.mark.parametrize(
    "env,host",
    [
        ({}, "runtime.sagemaker.eu-west-1.amazonaws.com"),
        ({"AWS_USE_FIPS_ENDPOINT": "true"}, "runtime-fips.sagemaker.eu-west-1.amazonaws.com"),
        ({"AWS_USE_DUALSTACK_ENDPOINT": "true"}, "runtime.sagemaker.eu-west-1.api.aws"),
        (
            {"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "true"},
            "runtime.sagemaker-fips.eu-west-1.api.aws",
        ),
        (
            # Configured endpoint URLs ignored: the argument-less client resolves the region's host.
            {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true", "AWS_ENDPOINT_URL": "https://runtime.example"},
            "runtime.sagemaker.eu-west-1.amazonaws.com",
        ),
    ],
)
def test_the_boundary_is_the_host_botocore_resolved(monkeypatch, sockets, env, host):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with _model() as model:
        boundary = model.info.boundary
        assert boundary.host == host == model.client.meta.endpoint_url.split("://", 1)[1]
        assert boundary.signing_region == "eu-west-1" and boundary.cloud == "aws"
        assert boundary.region_source == "destination"
    assert sockets == []  # building a client sends nothing


def test_a_request_redirected_after_the_gate_is_refused_before_a_socket_opens(server, make_client, sockets):
    server.add_endpoint("ep", "tgi")
    values = server.model_config("ep")
    values.pop("provider")
    model = SageMakerModel(SageMakerConfig(**values))

    def redirect(request, **_):  # e.g. a hook or an endpoint rule that moves the request
        request.url = "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/ep/invocations"

    model.client.meta.events.register("before-sign.sagemaker-runtime", redirect)
    client = make_client({"m": model}, policy={**EU, "allow_loopback": True})
    with pytest.raises(PolicyViolation) as info:
        client.model("m").generate("hello")
    assert sockets == []
    assert info.value.rule == "destination" and "runtime.sagemaker.us-east-1.amazonaws.com" in str(info.value)
    [record] = [r for r in client.trust.sink.records if r.get("outcome") == "blocked"]
    assert record["rule"] == "destination"
    assert server.requests == []


def test_the_send_guard_runs_before_any_socket(server, sockets):
    """before-send fires after signing and before the DNS lookup and the connection."""
    server.add_endpoint("ep", "tgi")
    values = server.model_config("ep")
    values.pop("provider")
    with SageMakerModel(SageMakerConfig(**values)) as model:
        client = model.client
        # Recorded in the same list as the socket calls, so their order is the real one.
        client.meta.events.register("before-send.sagemaker-runtime", lambda request, **_: sockets.append(("send", 0)))
        sockets.clear()
        client.invoke_endpoint(EndpointName="ep", Body=b'{"inputs": "hi"}', ContentType="application/json")
    assert sockets[0] == ("send", 0)
    assert {kind for kind, _ in sockets[1:]} >= {"connect"}
    # A guard that refuses therefore leaves no socket touched at all.
    with SageMakerModel(SageMakerConfig(**values)) as model:
        sockets.clear()
        install_send_guard(model.client, "https://elsewhere.example")
        with pytest.raises(DestinationChanged, match=r"elsewhere\.example"):
            model.client.invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="application/json")
    assert sockets == []


def test_the_send_guard_refuses_another_signing_region(server, sockets):
    server.add_endpoint("ep", "tgi")
    values = server.model_config("ep")
    values.pop("provider")
    with SageMakerModel(SageMakerConfig(**values)) as model:
        install_send_guard(model.client, server.url, signing_region="eu-central-1")
        sockets.clear()
        with pytest.raises(DestinationChanged, match="signed for region 'eu-west-1'"):
            model.client.invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="application/json")
    assert sockets == []


def test_the_send_guard_lets_the_gated_host_through(server, sockets):
    server.add_endpoint("ep", "tgi")
    values = server.model_config("ep")
    values.pop("provider")
    with SageMakerModel(SageMakerConfig(**values)) as model:
        body = model.client.invoke_endpoint(EndpointName="ep", Body=b'{"inputs": "hi"}', ContentType="application/json")
        assert body["Body"].read()
    assert any(kind == "connect" for kind, _ in sockets)


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


def test_a_loopback_url_behind_a_remote_http_proxy_is_refused_before_a_socket_opens(
    server, make_client, sockets, monkeypatch
):
    """botocore sends a plain-HTTP URL through HTTP_PROXY: the proxy reads the prompt, so
    it, not the loopback URL, is the destination (allow_loopback does not cover it)."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    server.add_endpoint("ep", "tgi")
    client = make_client({"m": server.model_config("ep")}, policy={**EU, "allow_loopback": True})
    with pytest.raises(PolicyViolation) as info:
        client.model("m").generate("hello ann@example.com")
    assert sockets == []
    assert_refused_and_audited(client, info, rule="allowed_jurisdictions", host="10.9.9.9:3128")
    assert client.model("m").info.boundary.network_path == "http-proxy"
    assert server.requests == []


def test_no_proxy_keeps_a_loopback_url_on_this_machine(server, make_client, sockets, monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    server.add_endpoint("ep", "tgi")
    client = make_client({"m": server.model_config("ep")}, policy={**EU, "allow_loopback": True})
    assert client.model("m").generate("hello").text
    assert len(server.requests) == 1
    assert client.model("m").info.boundary.host == server.url.split("://", 1)[1]


def test_a_tls_url_behind_a_proxy_keeps_its_destination(monkeypatch, sockets):
    """HTTPS through a proxy is a CONNECT tunnel: ciphertext to the judged host."""
    monkeypatch.setenv("HTTPS_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    with _model() as model:
        assert model.info.boundary.host == "runtime.sagemaker.eu-west-1.amazonaws.com"
    assert sockets == []
