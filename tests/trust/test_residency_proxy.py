"""A plain-HTTP request through a proxy goes to the proxy: ``plaintext_proxy`` names it.

The gate judges the host a plugin reports; for a plaintext URL behind ``HTTP_PROXY`` that
host must be the proxy (which reads every byte), not the URL's loopback host. TLS requests
are tunnelled and keep their destination.
"""

from __future__ import annotations

import pytest

from byom_sdk import Boundary
from byom_sdk.trust._gate import check_boundary
from byom_sdk.trust._policy import validate_policy
from byom_sdk.trust.residency import plaintext_proxy, url_boundary

PROXY = "http://10.9.9.9:3128"


@pytest.mark.parametrize(
    "url,client,environ,expected",
    [
        ("http://127.0.0.1:8080/v1", "botocore", {"HTTP_PROXY": PROXY}, PROXY),
        ("http://localhost:8080", "httpx", {"http_proxy": PROXY}, PROXY),
        # lowercase wins, as in urllib
        ("http://127.0.0.1:8080", "requests", {"http_proxy": PROXY, "HTTP_PROXY": "http://other:1"}, PROXY),
        # requests and httpx fall back to ALL_PROXY; botocore does not
        ("http://127.0.0.1:8080", "httpx", {"ALL_PROXY": PROXY}, PROXY),
        ("http://127.0.0.1:8080", "requests", {"all_proxy": PROXY}, PROXY),
        ("http://127.0.0.1:8080", "botocore", {"ALL_PROXY": PROXY}, None),
        # gRPC tunnels every channel, a plaintext one readable: grpc_proxy, then https_proxy
        ("grpc://127.0.0.1:9000/x", "grpc", {"grpc_proxy": "10.9.9.9:3128"}, "10.9.9.9:3128"),
        ("grpc://127.0.0.1:9000/x", "grpc", {"https_proxy": PROXY}, PROXY),
        # TLS is a CONNECT tunnel: the destination is unchanged
        ("https://runtime.sagemaker.eu-west-1.amazonaws.com", "botocore", {"HTTPS_PROXY": PROXY}, None),
        ("https://api.example", "httpx", {"HTTP_PROXY": PROXY, "ALL_PROXY": PROXY}, None),
        ("grpcs://europe-west4-aiplatform.googleapis.com", "grpc", {"grpc_proxy": PROXY}, None),
        # no proxy set
        ("http://127.0.0.1:8080", "httpx", {}, None),
    ],
)
def test_the_proxy_a_plaintext_request_goes_through(url, client, environ, expected):
    assert plaintext_proxy(url, client=client, environ=environ) == expected


@pytest.mark.parametrize(
    "no_proxy,exempt",
    [
        ("*", True),
        ("127.0.0.1", True),
        ("localhost,127.0.0.1", True),
        ("127.0.0.1:8080", True),
        ("127.0.0.1:9999", False),
        ("llm.corp.example", False),
        ("", False),
    ],
)
def test_no_proxy_exempts_only_what_every_client_exempts(no_proxy, exempt):
    environ = {"HTTP_PROXY": PROXY, "NO_PROXY": no_proxy}
    found = plaintext_proxy("http://127.0.0.1:8080", client="requests", environ=environ)
    assert found == (None if exempt else PROXY)


def test_no_proxy_matches_parent_domains_with_a_dot_boundary():
    environ = {"HTTP_PROXY": PROXY, "NO_PROXY": ".corp.example,example.org"}
    assert plaintext_proxy("http://llm.corp.example", client="httpx", environ=environ) is None
    assert plaintext_proxy("http://a.example.org", client="httpx", environ=environ) is None
    assert plaintext_proxy("http://badexample.org", client="httpx", environ=environ) == PROXY


def test_grpc_reads_no_grpc_proxy_before_no_proxy():
    environ = {"grpc_proxy": PROXY, "no_grpc_proxy": "other.example", "no_proxy": "127.0.0.1"}
    assert plaintext_proxy("grpc://127.0.0.1:9000", client="grpc", environ=environ) == PROXY
    environ["no_grpc_proxy"] = "127.0.0.1"
    assert plaintext_proxy("grpc://127.0.0.1:9000", client="grpc", environ=environ) is None


def test_a_bare_host_needs_the_plaintext_flag():
    environ = {"grpc_proxy": PROXY}
    assert plaintext_proxy("127.0.0.1:9000", client="grpc", environ=environ) is None
    assert plaintext_proxy("127.0.0.1:9000", client="grpc", environ=environ, plaintext=True) == PROXY
    assert plaintext_proxy("not a host", client="grpc", environ=environ, plaintext=True) is None


def test_a_loopback_url_behind_a_remote_proxy_is_judged_as_the_proxy():
    """The boundary a plugin builds with the proxy as its host is refused by an EU policy
    that allows loopback: the plaintext leaves the machine for a host of no known region."""
    policy = validate_policy({"allowed_jurisdictions": ["EU"], "allow_loopback": True}, source="test")
    url = "http://127.0.0.1:8080/v1"
    direct = Boundary(provider="p", location_kind="customer-cloud", region="eu-west-1", endpoint=url)
    assert not [d for d in check_boundary(direct, policy) if d.result == "violation"]
    proxy = plaintext_proxy(url, client="httpx", environ={"HTTP_PROXY": PROXY})
    proxied = direct.model_copy(update={"host": Boundary(provider="p", location_kind="process", host=proxy).host})
    refused = {d.rule: d.detail for d in check_boundary(proxied, policy) if d.result == "violation"}
    assert "allowed_jurisdictions" in refused and "10.9.9.9:3128" in refused["allowed_jurisdictions"]
    assert "require_tls" in refused


def test_url_boundary_judges_the_proxy_of_a_plaintext_url(monkeypatch):
    # Azure ML and any plugin built on url_boundary send through httpx, which reads the
    # environment's proxy: a loopback URL behind a remote proxy is that remote host.
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", PROXY)
    eu = validate_policy({"allowed_jurisdictions": ["EU"], "allow_loopback": True}, source="test")
    proxied = url_boundary("azureml", "http://127.0.0.1:8080/score", region="westeurope", loopback_kind="process")
    assert proxied.host == "10.9.9.9:3128" and proxied.network_path == "http-proxy"
    refused = [d for d in check_boundary(proxied, eu) if d.result == "violation"]
    assert refused and "10.9.9.9" in refused[0].detail
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = url_boundary("azureml", "http://127.0.0.1:8080/score", region="westeurope", loopback_kind="process")
    assert direct.network_path == "loopback" and not [d for d in check_boundary(direct, eu) if d.result == "violation"]
