"""Cloud endpoint hosts parsed into the region they serve.

Only hosts whose shape the provider documents are recognised; anything else (a proxy, a
bare IP, a private DNS name) derives no region and the gate fails closed on it unless the
policy's ``trusted_endpoints`` names it. A recognised shape with a region the shipped lists
do not know (``runtime.sagemaker.eu-west-9.amazonaws.com``) is returned with ``problem``
set, so the gate can say what is wrong instead of calling the host unknown.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ._data import Cloud, aws_partitions, gcp_locations, known_regions, suggest
from ._hosts import HostKind, split_host

__all__ = [
    "CloudHost",
    "Destination",
    "derive_destination",
    "parse_azureml_host",
    "parse_cloud_host",
    "parse_sagemaker_host",
    "parse_vertex_host",
]


@dataclass(frozen=True)
class CloudHost:
    """A cloud endpoint host and the region it serves.

    :param cloud: ``aws``, ``gcp`` or ``azure``.
    :param service: ``sagemaker-runtime``, ``vertex-ai`` or ``azureml-online``.
    :param region: the region (location) named by the host; ``global`` for Vertex's global host.
    :param partition: the AWS partition whose regions hold ``region``.
    :param variants: how the host reaches the region: ``fips``, ``dualstack``, ``vpce``,
        ``mtls``, ``rep`` (Google's regional/multi-regional endpoints), ``dedicated``.
    :param problem: set when the region is not a known region of that cloud (or partition).
    """

    cloud: Cloud
    service: str
    region: str
    partition: str | None = None
    variants: frozenset[str] = field(default_factory=frozenset)
    problem: str | None = None

    def describe(self) -> str:
        what = {"aws": "AWS SageMaker runtime", "gcp": "Vertex AI", "azure": "Azure ML online endpoint"}[self.cloud]
        extra = sorted(self.variants)
        if self.partition:
            extra.insert(0, f"partition {self.partition}")
        return f"{what} host" + (f" ({', '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class Destination:
    """Where a URL or host leads, as far as it can be told offline.

    :param host: ``host[:port]`` (lowercase; how decisions and the audit name it).
    :param kind: ``loopback``, ``ip`` or ``dns``.
    :param cloud_host: the parsed cloud endpoint, or ``None`` when the host is no known
        cloud endpoint (its region cannot be derived).
    """

    host: str
    hostname: str
    port: int | None
    scheme: str | None
    kind: HostKind
    cloud_host: CloudHost | None


def _did_you_mean(names: list[str]) -> str:
    return f" (did you mean {', '.join(repr(n) for n in names)}?)" if names else ""


@functools.lru_cache(maxsize=1)
def _sagemaker_pattern() -> re.Pattern[str]:
    suffixes = sorted(
        {s for part in aws_partitions().values() for s in part["sagemaker_runtime_suffixes"]}, key=len, reverse=True
    )
    # The pattern of the reference (structured-audit-residency.md §3), with the suffix
    # alternation taken from what botocore resolves instead of a hand-kept list.
    return re.compile(
        r"^(?P<vpce_id>vpce-[0-9a-z]+-[0-9a-z]+(?:-[a-z0-9-]+)?\.)?"
        r"runtime(?P<fips1>-fips)?\.sagemaker(?P<fips2>-fips)?\."
        r"(?P<region>[a-z0-9-]+)\.(?P<vpce>vpce\.)?"
        rf"(?P<suffix>{'|'.join(re.escape(s) for s in suffixes)})$"
    )


def parse_sagemaker_host(hostname: str) -> CloudHost | None:
    """A SageMaker runtime host (public, FIPS, dual-stack or VPC endpoint), or ``None``.

    The region must belong to a partition whose sagemaker-runtime hosts end in that
    suffix: ``runtime.sagemaker.cn-north-1.amazonaws.com`` is refused (China's hosts end in
    ``.amazonaws.com.cn``), so a host cannot borrow another partition's region name.
    """
    match = _sagemaker_pattern().match(hostname.lower())
    if match is None:
        return None
    region, suffix = match["region"], match["suffix"]
    variants = set()
    if match["fips1"] or match["fips2"]:
        variants.add("fips")
    if match["vpce"] or match["vpce_id"]:
        variants.add("vpce")
    partitions = {name: p for name, p in aws_partitions().items() if suffix in p["sagemaker_runtime_suffixes"]}
    if any(suffix == p["dualstack_dns_suffix"] or suffix == "api.aws" for p in partitions.values()):
        variants.add("dualstack")
    for name, part in partitions.items():
        if region in part["regions"]:
            return CloudHost("aws", "sagemaker-runtime", region, partition=name, variants=frozenset(variants))
    owner = next((n for n, p in aws_partitions().items() if region in p["regions"]), None)
    if owner is not None:
        problem = (
            f"region '{region}' belongs to AWS partition {owner}, whose SageMaker runtime hosts do not end "
            f"in '.{suffix}'"
        )
    else:
        candidates = [r for p in partitions.values() for r in p["regions"]]
        problem = (
            f"'{region}' is not a region of AWS partition {'/'.join(sorted(partitions))}"
            f"{_did_you_mean(suggest(region, candidates))}"
        )
    return CloudHost("aws", "sagemaker-runtime", region, variants=frozenset(variants), problem=problem)


_VERTEX_REGIONAL = re.compile(r"^(?P<loc>[a-z0-9-]+)-aiplatform(?P<mtls>\.mtls)?\.googleapis\.com$")
_VERTEX_GLOBAL = re.compile(r"^aiplatform(?P<mtls>\.mtls)?\.googleapis\.com$")
_VERTEX_REP = re.compile(r"^aiplatform\.(?P<loc>[a-z0-9-]+)\.rep(?P<mtls>\.mtls)?\.googleapis\.com$")
_VERTEX_DEDICATED = re.compile(
    r"^(?P<id>[0-9a-z-]+)\.(?P<loc>[a-z]+-[a-z]+[0-9]+)-(?P<uid>[0-9a-z]+)\.prediction\.vertexai\.goog$"
)


def _vertex(location: str, variants: set[str]) -> CloudHost:
    problem = None
    known = gcp_locations()
    if location not in known:
        problem = f"'{location}' is not a known Vertex AI location{_did_you_mean(suggest(location, known))}"
    return CloudHost("gcp", "vertex-ai", location, variants=frozenset(variants), problem=problem)


def parse_vertex_host(hostname: str) -> CloudHost | None:
    """A Vertex AI API host, or ``None``.

    ``{loc}-aiplatform.googleapis.com`` (regional), ``aiplatform.googleapis.com``
    (``global``: no residency), ``aiplatform.{us|eu}.rep.googleapis.com`` (multi-region),
    ``{id}.{loc}-{uid}.prediction.vertexai.goog`` (dedicated endpoint), and the ``.mtls.``
    form google-api-core derives from each googleapis.com host.
    """
    name = hostname.lower()
    if match := _VERTEX_GLOBAL.match(name):
        return _vertex("global", {"mtls"} if match["mtls"] else set())
    if match := _VERTEX_REP.match(name):
        variants = {"rep"} | ({"mtls"} if match["mtls"] else set())
        if match["loc"] == "global":
            return CloudHost(
                "gcp", "vertex-ai", "global", variants=frozenset(variants), problem="'global' has no REP host"
            )
        return _vertex(match["loc"], variants)
    if match := _VERTEX_REGIONAL.match(name):
        return _vertex(match["loc"], {"mtls"} if match["mtls"] else set())
    if match := _VERTEX_DEDICATED.match(name):
        return _vertex(match["loc"], {"dedicated"})
    return None


_AZUREML = re.compile(r"^(?P<name>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.(?P<region>[a-z0-9]+)\.inference\.ml\.azure\.com$")


def parse_azureml_host(hostname: str) -> CloudHost | None:
    """An Azure Machine Learning online endpoint host (``{name}.{region}.inference.ml.azure.com``)."""
    match = _AZUREML.match(hostname.lower())
    if match is None:
        return None
    region = match["region"]
    problem = None
    if region not in known_regions("azure"):
        problem = f"'{region}' is not a known Azure region{_did_you_mean(suggest(region, known_regions('azure')))}"
    return CloudHost("azure", "azureml-online", region, problem=problem)


def parse_cloud_host(hostname: str) -> CloudHost | None:
    """The first of the SageMaker, Vertex AI and Azure ML parsers that recognises ``hostname``."""
    return parse_sagemaker_host(hostname) or parse_vertex_host(hostname) or parse_azureml_host(hostname)


@functools.lru_cache(maxsize=256)
def derive_destination(value: str) -> Destination:
    """Where ``value`` (a URL, ``host:port`` or host) leads.

    :raises ValueError: when no host can be read from it unambiguously.
    """
    split = split_host(value)
    kind = split.kind
    cloud_host = parse_cloud_host(split.hostname) if kind == "dns" else None
    return Destination(
        host=split.host,
        hostname=split.hostname,
        port=split.port,
        scheme=split.scheme,
        kind=kind,
        cloud_host=cloud_host,
    )
