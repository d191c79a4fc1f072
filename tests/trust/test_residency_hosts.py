"""Destination hosts parsed offline: cloud endpoint shapes, loopback / IP / DNS, redaction.

The gate's region comes from these parsers, so every host shape a client can produce is
pinned here, including the ones that must *not* parse (a region borrowed from another
partition, a made-up region, URLs two parsers would read differently).
"""

from __future__ import annotations

import pytest

from byom_sdk.trust.residency import (
    classify_host,
    derive_destination,
    parse_azureml_host,
    parse_cloud_host,
    parse_sagemaker_host,
    parse_vertex_host,
    redact_url,
    split_host,
)

# host -> (region, partition, variants); every host here is one botocore 1.44 resolves.
SAGEMAKER = [
    ("runtime.sagemaker.eu-west-1.amazonaws.com", "eu-west-1", "aws", set()),
    ("runtime-fips.sagemaker.us-east-1.amazonaws.com", "us-east-1", "aws", {"fips"}),
    ("runtime.sagemaker.eu-central-1.api.aws", "eu-central-1", "aws", {"dualstack"}),
    ("runtime.sagemaker-fips.us-east-1.api.aws", "us-east-1", "aws", {"fips", "dualstack"}),
    ("vpce-0abc123-xyz789.runtime.sagemaker.us-east-1.vpce.amazonaws.com", "us-east-1", "aws", {"vpce"}),
    ("vpce-0abc123-xyz789-eu-west-1a.runtime.sagemaker.eu-west-1.vpce.amazonaws.com", "eu-west-1", "aws", {"vpce"}),
    ("runtime.sagemaker.cn-north-1.amazonaws.com.cn", "cn-north-1", "aws-cn", set()),
    ("runtime.sagemaker.cn-north-1.api.amazonwebservices.com.cn", "cn-north-1", "aws-cn", {"dualstack"}),
    ("runtime.sagemaker.eusc-de-east-1.amazonaws.eu", "eusc-de-east-1", "aws-eusc", set()),
    ("runtime.sagemaker.us-gov-west-1.amazonaws.com", "us-gov-west-1", "aws-us-gov", set()),
    ("runtime.sagemaker.us-iso-east-1.c2s.ic.gov", "us-iso-east-1", "aws-iso", set()),
    ("runtime.sagemaker.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1", "aws-iso-b", set()),
    ("runtime.sagemaker.eu-isoe-west-1.cloud.adc-e.uk", "eu-isoe-west-1", "aws-iso-e", set()),
    ("runtime.sagemaker.us-isof-south-1.csp.hci.ic.gov", "us-isof-south-1", "aws-iso-f", set()),
    ("RUNTIME.SageMaker.EU-West-2.AmazonAWS.com", "eu-west-2", "aws", set()),
]


@pytest.mark.parametrize("host,region,partition,variants", SAGEMAKER)
def test_sagemaker_runtime_hosts(host, region, partition, variants):
    parsed = parse_sagemaker_host(host)
    assert parsed is not None and parsed.problem is None, parsed
    assert (parsed.cloud, parsed.service, parsed.region, parsed.partition) == (
        "aws",
        "sagemaker-runtime",
        region,
        partition,
    )
    assert parsed.variants == variants


@pytest.mark.parametrize(
    "host,needle",
    [
        # A made-up region: the shape is SageMaker's, the region is nobody's.
        ("runtime.sagemaker.eu-west-9.amazonaws.com", "did you mean 'eu-west-3', 'eu-west-2', 'eu-west-1'"),
        ("runtime.sagemaker.xx-fake-1.amazonaws.com", "not a region of AWS partition"),
        # China's region under the global suffix: a region must stay in its partition.
        ("runtime.sagemaker.cn-north-1.amazonaws.com", "belongs to AWS partition aws-cn"),
        ("runtime.sagemaker.eu-west-1.amazonaws.eu", "belongs to AWS partition aws,"),
    ],
)
def test_sagemaker_hosts_with_a_region_outside_the_suffix_partition(host, needle):
    parsed = parse_sagemaker_host(host)
    assert parsed is not None and parsed.partition is None
    assert needle in parsed.problem


@pytest.mark.parametrize(
    "host",
    [
        "sagemaker.eu-west-1.amazonaws.com",  # control plane, not runtime
        "runtime.sagemaker.eu-west-1.amazonaws.com.evil.example",
        "evil.example/runtime.sagemaker.eu-west-1.amazonaws.com",
        "runtime.sagemaker.eu-west-1.example.com",
        "xruntime.sagemaker.eu-west-1.amazonaws.com",
    ],
)
def test_look_alike_hosts_are_not_sagemaker(host):
    assert parse_sagemaker_host(host) is None


VERTEX = [
    ("europe-west4-aiplatform.googleapis.com", "europe-west4", set()),
    ("us-central1-aiplatform.googleapis.com", "us-central1", set()),
    ("europe-west4-aiplatform.mtls.googleapis.com", "europe-west4", {"mtls"}),
    ("aiplatform.googleapis.com", "global", set()),
    ("aiplatform.mtls.googleapis.com", "global", {"mtls"}),
    ("aiplatform.eu.rep.googleapis.com", "eu", {"rep"}),
    ("aiplatform.us.rep.googleapis.com", "us", {"rep"}),
    ("aiplatform.eu.rep.mtls.googleapis.com", "eu", {"rep", "mtls"}),
    ("1234567890.europe-west4-987654321.prediction.vertexai.goog", "europe-west4", {"dedicated"}),
    ("555.northamerica-northeast1-42.prediction.vertexai.goog", "northamerica-northeast1", {"dedicated"}),
]


@pytest.mark.parametrize("host,location,variants", VERTEX)
def test_vertex_hosts(host, location, variants):
    parsed = parse_vertex_host(host)
    assert parsed is not None and parsed.problem is None, parsed
    assert (parsed.cloud, parsed.service, parsed.region) == ("gcp", "vertex-ai", location)
    assert parsed.variants == variants


def test_vertex_host_with_an_unknown_location_names_the_nearest():
    parsed = parse_vertex_host("europe-west44-aiplatform.googleapis.com")
    assert parsed is not None and "'europe-west4'" in parsed.problem
    assert parse_vertex_host("aiplatform.googleapis.com.evil.example") is None
    assert parse_vertex_host("europe-west4-aiplatform.googleapis.co") is None


@pytest.mark.parametrize(
    "host,region,problem",
    [
        ("my-endpoint.westeurope.inference.ml.azure.com", "westeurope", None),
        ("chat-1.swedencentral.inference.ml.azure.com", "swedencentral", None),
        ("my-endpoint.westeuropa.inference.ml.azure.com", "westeuropa", "did you mean 'westeurope'"),
    ],
)
def test_azureml_hosts(host, region, problem):
    parsed = parse_azureml_host(host)
    assert parsed is not None and parsed.region == region and parsed.cloud == "azure"
    assert (parsed.problem is None) if problem is None else (problem in parsed.problem)


@pytest.mark.parametrize(
    "value,host,kind",
    [
        ("http://127.0.0.1:8080/v1", "127.0.0.1:8080", "loopback"),
        ("127.9.9.9", "127.9.9.9", "loopback"),
        ("http://[::1]:9000", "[::1]:9000", "loopback"),
        ("localhost:5000", "localhost:5000", "loopback"),
        ("http://api.localhost", "api.localhost", "loopback"),
        ("http://0.0.0.0:8000", "0.0.0.0:8000", "loopback"),  # connecting to it reaches this machine
        ("http://[::ffff:127.0.0.1]:80", "[::ffff:127.0.0.1]:80", "loopback"),
        ("https://10.20.30.40:8443", "10.20.30.40:8443", "ip"),
        ("grpcs://[fd00::5]:443", "[fd00::5]:443", "ip"),
        ("https://proxy.corp.example/v1", "proxy.corp.example", "dns"),
        ("https://user:secret@proxy.corp.example:8443/x?key=1", "proxy.corp.example:8443", "dns"),
        ("Runtime.SageMaker.EU-West-1.amazonaws.com.", "runtime.sagemaker.eu-west-1.amazonaws.com", "dns"),
    ],
)
def test_destinations_are_split_and_classified(value, host, kind):
    destination = derive_destination(value)
    assert (destination.host, destination.kind) == (host, kind)
    assert classify_host(destination.hostname) == kind
    assert destination.cloud_host is None or kind == "dns"


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example\\@runtime.sagemaker.eu-west-1.amazonaws.com/",  # parsers disagree on '\'
        "https://runtime.sagemaker.eu-west-1.amazonaws.com%2eevil.example/",
        "https://host with space/",
        "https://host:notaport/",
        "https:///path-only",
        "",
    ],
)
def test_ambiguous_urls_are_refused_not_guessed(value):
    with pytest.raises(ValueError):
        split_host(value)


def test_cloud_hosts_are_tried_in_turn():
    assert parse_cloud_host("runtime.sagemaker.eu-west-1.amazonaws.com").cloud == "aws"
    assert parse_cloud_host("europe-west4-aiplatform.googleapis.com").cloud == "gcp"
    assert parse_cloud_host("e.westeurope.inference.ml.azure.com").cloud == "azure"
    assert parse_cloud_host("api.openai.com") is None


@pytest.mark.parametrize(
    "url,redacted",
    [
        ("https://user:pw@h.example:8443/v1?key=s3cr3t#frag", "https://***@h.example:8443/v1?key=***"),
        (
            "https://h.example/x?X-Amz-Signature=abc&X-Amz-Credential=AKID&api-version=2024-02-01",
            "https://h.example/x?X-Amz-Signature=***&X-Amz-Credential=***&api-version=2024-02-01",
        ),
        ("token@h.example:9000", "***@h.example:9000"),
        ("https://h.example/v1", "https://h.example/v1"),
    ],
)
def test_urls_are_redacted(url, redacted):
    assert redact_url(url) == redacted


@pytest.mark.parametrize(
    ("spelling", "address", "kind"),
    [
        ("2130706433", "127.0.0.1", "loopback"),
        ("0x7f000001", "127.0.0.1", "loopback"),
        ("127.1", "127.0.0.1", "loopback"),
        ("0177.0.0.1", "127.0.0.1", "loopback"),
        ("017700000001", "127.0.0.1", "loopback"),
        ("0", "0.0.0.0", "loopback"),
        ("0x08080808", "8.8.8.8", "ip"),
        ("134744072", "8.8.8.8", "ip"),
    ],
)
def test_a_legacy_numeric_ipv4_spelling_is_refused_naming_the_address(spelling, address, kind):
    """The C resolver reads these as IPv4 without any DNS lookup (an independent probe sent a
    prompt to 127.0.0.1 through ``https://2130706433`` with loopback disallowed): the gate
    must not take them for DNS names."""
    assert classify_host(spelling) == kind
    with pytest.raises(ValueError, match=rf"spells IPv4 address {address} in a legacy numeric form; write {address}"):
        split_host(f"https://{spelling}:8443/v1")


@pytest.mark.parametrize("name", ["cafe.be", "0xcafe.com", "deadbeef", "a1b2.example", "10.0.0.1.nip.io"])
def test_names_made_of_hex_letters_stay_dns_names(name):
    assert split_host(name).hostname == name and classify_host(name) == "dns"
