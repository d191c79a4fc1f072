"""The residency gate decides on the destination host, never on configuration alone.

One EU policy for AWS, Google Cloud and Azure; contradictions between a configured region
and the host; made-up regions; hosts whose region cannot be derived; loopback; derived
location kinds and TLS; and bad policy input named by field with the nearest names.
"""

from __future__ import annotations

import pytest

from byom_sdk import Boundary, Client, ConfigError, PolicyViolation
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import check_boundary
from byom_sdk.trust._policy import merge_policy, validate_policy

EU = {"allowed_jurisdictions": ["EU"]}


def policy(**fields):
    return validate_policy(fields, source="test")


def boundary(endpoint, region=None, **fields):
    values = {"provider": "p", "location_kind": "customer-cloud", "endpoint": endpoint, "region": region}
    values.update(fields)
    return Boundary(**values)


def violations(decisions):
    return [d for d in decisions if d.result == "violation"]


def first_violation(b, p):
    found = violations(check_boundary(b, p))
    return found[0] if found else None


ADMITTED = [
    "https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/e",
    "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/endpoints/1",
    "https://chat.westeurope.inference.ml.azure.com/score",
    "https://aiplatform.eu.rep.googleapis.com",
    "https://runtime.sagemaker.eusc-de-east-1.amazonaws.eu/endpoints/e",
]
REFUSED = [
    ("https://runtime.sagemaker.eu-west-2.amazonaws.com/endpoints/e", "eu-west-2", "UK"),
    ("https://europe-west2-aiplatform.googleapis.com", "europe-west2", "UK"),
    ("https://chat.uksouth.inference.ml.azure.com/score", "uksouth", "UK"),
    ("https://runtime.sagemaker.eu-central-2.amazonaws.com/endpoints/e", "eu-central-2", "CH"),
    ("https://europe-west6-aiplatform.googleapis.com", "europe-west6", "CH"),
    ("https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/e", "us-east-1", "US"),
    ("https://aiplatform.googleapis.com", "global", "no jurisdiction"),
]


@pytest.mark.parametrize("endpoint", ADMITTED)
def test_one_eu_policy_admits_eu_regions_of_every_cloud(endpoint):
    decisions = check_boundary(boundary(endpoint), policy(**EU))
    assert violations(decisions) == []
    [jurisdiction] = [d for d in decisions if d.rule == "allowed_jurisdictions"]
    assert "is in EU" in jurisdiction.detail
    assert all(d.detail.startswith("host ") for d in decisions)  # every decision names the host


@pytest.mark.parametrize("endpoint,region,where", REFUSED)
def test_one_eu_policy_refuses_prefixes_that_lie(endpoint, region, where):
    refused = first_violation(boundary(endpoint), policy(**EU))
    assert refused is not None and refused.rule == "allowed_jurisdictions"
    host = endpoint.split("/")[2]
    assert f"host {host}" in refused.detail and f"'{region}'" in refused.detail and where in refused.detail


def test_eea_admits_norway_that_the_eu_refuses():
    azure_no = boundary("https://e.norwayeast.inference.ml.azure.com")
    assert first_violation(azure_no, policy(allowed_jurisdictions=["EEA"])) is None
    assert first_violation(azure_no, policy(**EU)).rule == "allowed_jurisdictions"


def test_region_patterns_cover_google_cloud_names_too():
    p = policy(allowed_regions=["eu-*", "europe-*"])
    assert first_violation(boundary("https://europe-west4-aiplatform.googleapis.com"), p) is None
    assert first_violation(boundary("https://runtime.sagemaker.eu-west-1.amazonaws.com"), p) is None
    only_aws = first_violation(
        boundary("https://europe-west4-aiplatform.googleapis.com"), policy(allowed_regions=["eu-*"])
    )
    assert only_aws.rule == "allowed_regions" and "'europe-west4'" in only_aws.detail


def test_a_configured_region_the_host_contradicts_is_refused_naming_both():
    b = boundary("https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/e", "eu-west-1")
    for p in (policy(), policy(allowed_regions=["eu-*"])):  # a lie in the audit record, policy or not
        refused = first_violation(b, p)
        assert refused.rule == "destination"
        assert "'eu-west-1'" in refused.detail and "'us-east-1'" in refused.detail
        assert "runtime.sagemaker.us-east-1.amazonaws.com" in refused.detail


def test_a_signing_region_the_host_contradicts_is_refused():
    b = boundary("https://runtime.sagemaker.ap-southeast-1.amazonaws.com", signing_region="eu-west-1")
    refused = first_violation(b, policy())
    assert refused.rule == "destination" and "signed for region 'eu-west-1'" in refused.detail


def test_a_made_up_region_is_refused():
    host = boundary("https://runtime.sagemaker.eu-west-9.amazonaws.com", "eu-west-9")
    refused = first_violation(host, policy(allowed_regions=["eu-*"]))
    assert refused.rule == "destination" and "did you mean 'eu-west-3', 'eu-west-2', 'eu-west-1'" in refused.detail
    # Without a residency policy stale data must not break the call: flagged, not refused.
    assert [d.result for d in check_boundary(host, policy()) if d.rule == "destination"] == ["warn"]
    # A declared made-up region on a loopback server is refused by the region rule.
    local = boundary("http://127.0.0.1:9000", "eu-west-9")
    refused = first_violation(local, policy(allowed_regions=["eu-*"], allow_loopback=True))
    assert refused.rule == "allowed_regions" and "'eu-west-9' is not a known" in refused.detail


@pytest.mark.parametrize(
    "endpoint,host",
    [
        ("https://llm-proxy.corp.example/v1", "llm-proxy.corp.example"),  # custom proxy
        ("https://10.20.30.40:8443/v1", "10.20.30.40:8443"),  # bare IP (e.g. a PSC address)
        ("https://sagemaker.internal.corp.example", "sagemaker.internal.corp.example"),  # private DNS
    ],
)
def test_an_underivable_destination_is_refused_unless_trusted(endpoint, host):
    b = boundary(endpoint, "eu-west-1")
    refused = first_violation(b, policy(allowed_regions=["eu-*"]))
    assert refused.rule == "allowed_regions"
    assert f"host {host}" in refused.detail and "no trusted_endpoints entry names it" in refused.detail
    refused = first_violation(b, policy(**EU))
    assert refused.rule == "allowed_jurisdictions" and f"host {host}" in refused.detail

    trusted = policy(
        allowed_regions=["eu-*"],
        trusted_endpoints=[{"host": host.split(":")[0], "region": "eu-west-1", "location_kind": "customer-cloud"}],
    )
    decisions = check_boundary(b, trusted)
    assert violations(decisions) == []
    [regions] = [d for d in decisions if d.rule == "allowed_regions"]
    assert f"host {host}" in regions.detail and "'eu-west-1' matches 'eu-*'" in regions.detail
    [destination] = [d for d in decisions if d.rule == "destination"]
    assert "trusted_endpoints[0]" in destination.detail


def test_trusted_endpoints_match_globs_networks_and_ports():
    entries = [
        {"host": "*.vpce.corp.example", "region": "eu-central-1", "cloud": "aws"},
        {"host": "10.8.0.0/16", "region": "europe-west4", "cloud": "gcp"},
        {"host": "gateway.corp.example:8443", "region": "westeurope", "location_kind": "customer-cloud"},
    ]
    p = policy(trusted_endpoints=entries, **EU)
    for endpoint in ("https://a.vpce.corp.example", "https://10.8.3.4", "https://gateway.corp.example:8443"):
        assert first_violation(boundary(endpoint), p) is None, endpoint
    for endpoint in ("https://a.vpce.corp.example.evil.example", "https://10.9.0.1", "https://gateway.corp.example"):
        assert first_violation(boundary(endpoint), p) is not None, endpoint


def test_an_ipv4_mapped_ipv6_address_is_in_the_ipv4_range_it_connects_to():
    p = policy(trusted_endpoints=[{"host": "10.20.0.0/16", "region": "eu-west-1", "cloud": "aws"}], **EU)
    assert first_violation(boundary("https://[::ffff:10.20.0.5]"), p) is None
    assert first_violation(boundary("https://[::ffff:10.21.0.5]"), p) is not None
    assert first_violation(boundary("https://[2001:db8::a14:5]"), p) is not None


def test_a_glob_star_is_one_whole_label_never_a_run_of_labels():
    p = policy(trusted_endpoints=[{"host": "10.20.0.*", "region": "eu-west-1", "cloud": "aws"}], **EU)
    assert first_violation(boundary("https://10.20.0.5"), p) is None
    for endpoint in ("https://10.20.0.5.evil.example", "https://evil.10.20.0.5", "https://10.20.1.5"):
        assert first_violation(boundary(endpoint), p) is not None, endpoint
    p = policy(trusted_endpoints=[{"host": "*.corp.example", "region": "eu-west-1", "cloud": "aws"}], **EU)
    assert first_violation(boundary("https://a.corp.example"), p) is None
    assert first_violation(boundary("https://a.b.corp.example"), p) is not None


@pytest.mark.parametrize("pattern", ["*:443", "*.com", "[!x]*", "*example", "a.*b.example", "??.corp.example"])
def test_host_patterns_that_would_trust_too_much_are_config_errors(pattern):
    with pytest.raises(ConfigError, match=r"trusted_endpoints\.0\.host"):
        policy(trusted_endpoints=[{"host": pattern, "region": "eu-west-1"}])


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1:9\\@europe-west4-aiplatform.googleapis.com/v1",  # urllib3 reads 127.0.0.1
        "https://evil.example\\@runtime.sagemaker.eu-west-1.amazonaws.com",
        "https://runtime.sagemaker.eu-west-1.amazonaws.com\tx/endpoints/e",
        "https://runtime.sagemaker.us%2Deast%2D1.amazonaws.com",
    ],
)
def test_a_destination_that_cannot_be_read_unambiguously_is_refused_even_when_its_redaction_parses(endpoint):
    b = boundary(endpoint, "eu-west-1")
    assert b.host is not None and b.host.startswith("<unparseable: ")
    assert "evil" not in b.host and "127.0.0.1" not in b.host  # redacted like the endpoint
    refused = first_violation(b, policy(**EU))
    assert refused.rule == "destination" and "cannot be read unambiguously" in refused.detail
    assert Boundary(**b.model_dump()).host == b.host  # the stand-in is stable when re-validated


def test_trusted_entry_location_kind_defaults():
    no_cloud = policy(trusted_endpoints=[{"host": "proxy.example", "region": "eu-west-1"}])
    refused = first_violation(boundary("https://proxy.example"), no_cloud)
    assert refused.rule == "allowed_location_kinds" and "'third-party'" in refused.detail
    with_cloud = policy(trusted_endpoints=[{"host": "proxy.example", "region": "eu-west-1", "cloud": "aws"}])
    assert first_violation(boundary("https://proxy.example"), with_cloud) is None


def test_a_trusted_entry_never_overrides_a_cloud_host():
    p = policy(trusted_endpoints=[{"host": "*.amazonaws.com", "region": "eu-west-1", "cloud": "aws"}], **EU)
    refused = first_violation(boundary("https://runtime.sagemaker.us-east-1.amazonaws.com"), p)
    assert refused.rule == "allowed_jurisdictions" and "'us-east-1'" in refused.detail


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8080", "http://localhost:9000/v1", "http://[::1]:7000"])
def test_loopback_needs_allow_loopback(endpoint):
    b = boundary(endpoint, location_kind="process")
    refused = first_violation(b, policy())
    assert refused.rule == "allow_loopback" and "allow_loopback = true" in refused.detail
    decisions = check_boundary(b, policy(allow_loopback=True, allowed_regions=["eu-*"]))
    assert violations(decisions) == []
    assert {d.rule: d.result for d in decisions}["require_tls"] == "pass"  # never leaves the machine


def test_self_declared_process_on_a_remote_plain_http_host_skips_nothing():
    b = boundary("http://llm.example.net:8000/v1", location_kind="process", tls=True)
    decisions = {d.rule: d for d in check_boundary(b, policy(allowed_regions=["eu-*"]))}
    assert decisions["allowed_location_kinds"].result == "violation"
    assert "'third-party'" in decisions["allowed_location_kinds"].detail
    assert decisions["allowed_regions"].result == "violation"
    assert decisions["require_tls"].result == "violation"  # the scheme wins over a declared tls=True


@pytest.mark.parametrize("declared", ["process", "customer-cloud", "third-party"])
def test_location_kind_of_a_remote_host_is_derived_not_declared(declared):
    only_cloud = policy(allowed_location_kinds=["customer-cloud"])
    cloud_host = boundary("https://runtime.sagemaker.eu-west-1.amazonaws.com", location_kind=declared)
    assert first_violation(cloud_host, only_cloud) is None
    other_host = boundary("https://api.vendor.example/v1", location_kind=declared)
    refused = first_violation(other_host, only_cloud)
    assert refused.rule == "allowed_location_kinds" and "'third-party'" in refused.detail


def test_global_only_passes_an_explicit_global():
    b = boundary("https://aiplatform.googleapis.com", "global")
    assert first_violation(b, policy(allowed_regions=["*"])).rule == "allowed_regions"
    assert first_violation(b, policy(allowed_regions=["global"])) is None


def test_in_process_models_are_exempt():
    onnx = Boundary(provider="onnx", location_kind="process", retention="none")
    assert onnx.region_source == "process" and onnx.host is None
    assert violations(check_boundary(onnx, policy(allowed_regions=["eu-*"], **EU))) == []


def test_boundary_endpoint_is_redacted_and_host_derived():
    b = Boundary(
        provider="p",
        location_kind="customer-cloud",
        endpoint="https://user:pw@runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/e?X-Amz-Signature=abc",
    )
    assert b.endpoint == "https://***@runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/e?X-Amz-Signature=***"
    assert b.host == "runtime.sagemaker.eu-west-1.amazonaws.com"
    assert "pw" not in repr(b) and "abc" not in b.model_dump_json()


@pytest.mark.parametrize(
    "fields,field,needles",
    [
        ({"allowed_regions": ["eu-west-9"]}, "trust.allowed_regions.0", ["'eu-west-1'", "'eu-west-2'"]),
        ({"allowed_regions": ["eu-*", "europe-west44"]}, "trust.allowed_regions.1", ["'europe-west4'"]),
        ({"allowed_regions": ["europ-*"]}, "trust.allowed_regions.0", ["'europe-*'"]),
        ({"allowed_regions": ["westeuropa"]}, "trust.allowed_regions.0", ["'westeurope'"]),
        ({"allowed_jurisdictions": ["EUR"]}, "trust.allowed_jurisdictions.0", ["'EU'"]),
        ({"allowed_jurisdictions": ["Europe"]}, "trust.allowed_jurisdictions.0", ["known: EU, EEA"]),
        (
            {"trusted_endpoints": [{"host": "10.0.0.1", "region": "eu-west-9"}]},
            "trust.trusted_endpoints.0.region",
            ["'eu-west-1'"],
        ),
        (
            {"trusted_endpoints": [{"host": "10.0.0.1", "cloud": "gcp", "region": "eu-west-1"}]},
            "trust.trusted_endpoints.0.region",
            ["Google Cloud", "'europe-west1'"],
        ),
        (
            {"trusted_endpoints": [{"host": "*", "region": "eu-west-1"}]},
            "trust.trusted_endpoints.0.host",
            ["every host"],
        ),
        (
            {"trusted_endpoints": [{"host": "0.0.0.0/0", "region": "eu-west-1"}]},
            "trust.trusted_endpoints.0.host",
            ["every address"],
        ),
        ({"allow_loopback": "sometimes"}, "trust.allow_loopback", []),
    ],
)
def test_bad_input_names_the_field_and_the_nearest_names(registry, fields, field, needles):
    with pytest.raises(ConfigError) as info:  # at build or at first use, never later
        Client(models={"m": ScriptedModel()}, policy=fields, registry=registry).model("m")
    assert info.value.field == field
    for needle in needles:
        assert needle in str(info.value)
    assert "Traceback" not in str(info.value)


def test_jurisdiction_codes_are_case_insensitive():
    assert policy(allowed_jurisdictions=["eu", "Uk"]).allowed_jurisdictions == ("EU", "UK")


def test_per_model_override_can_trust_an_endpoint():
    base = policy(allowed_regions=["eu-*"])
    merged = merge_policy(
        base,
        {"trusted_endpoints": [{"host": "10.1.1.1", "region": "eu-west-1", "cloud": "aws"}]},
        source="s",
        alias="m",
    )
    assert first_violation(boundary("https://10.1.1.1"), merged) is None
    assert first_violation(boundary("https://10.1.1.1"), base).rule == "allowed_regions"


def test_the_audit_record_of_a_refused_call_names_the_host_and_the_rule(registry):
    model = ScriptedModel(
        boundary=boundary("https://runtime.sagemaker.eu-west-2.amazonaws.com/endpoints/e", "eu-west-2")
    )
    client = Client(models={"bot": model}, policy={"audit": {"sink": "memory"}, **EU}, registry=registry)
    try:
        with pytest.raises(PolicyViolation) as info:
            client.model("bot").generate("hello")
        assert info.value.rule == "allowed_jurisdictions"
        assert model.requests == []
        [record] = [r for r in client.trust.sink.records if r.get("outcome") == "blocked"]
        assert record["rule"] == "allowed_jurisdictions"
        assert record["boundary"]["host"] == "runtime.sagemaker.eu-west-2.amazonaws.com"
        [decision] = [d for d in record["decisions"] if d["rule"] == "allowed_jurisdictions"]
        assert decision["result"] == "violation"
        assert "host runtime.sagemaker.eu-west-2.amazonaws.com" in decision["detail"] and "UK" in decision["detail"]
    finally:
        client.close()
