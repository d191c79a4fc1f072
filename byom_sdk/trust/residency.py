"""Public residency helpers for provider plugins and policy tooling.

Plugins describe where their client will connect with these functions (the trust gate
uses the same ones), so a plugin and the gate never disagree on what a host means::

    from byom_sdk.trust.residency import derive_destination, parse_sagemaker_host

Nothing here touches the network; the shipped region lists and the jurisdiction table are
read on first use (see docs/residency.md for their dates and sources).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._residency import (
    CLOUDS,
    Cloud,
    CloudHost,
    Destination,
    HostKind,
    HostPort,
    ProxyClient,
    classify_host,
    data_versions,
    derive_destination,
    host_of,
    is_loopback,
    jurisdiction_codes,
    jurisdiction_problem,
    jurisdiction_regions,
    jurisdictions_of,
    known_regions,
    parse_azureml_host,
    parse_cloud_host,
    parse_sagemaker_host,
    parse_vertex_host,
    pattern_problem,
    plaintext_proxy,
    redact_url,
    region_cloud,
    region_problem,
    same_destination,
    split_host,
    suggest,
)

if TYPE_CHECKING:
    from .._types import Boundary, LocationKind

__all__ = [
    "CLOUDS",
    "Cloud",
    "CloudHost",
    "Destination",
    "HostKind",
    "HostPort",
    "ProxyClient",
    "classify_host",
    "data_versions",
    "derive_destination",
    "host_of",
    "is_loopback",
    "jurisdiction_codes",
    "jurisdiction_problem",
    "jurisdiction_regions",
    "jurisdictions_of",
    "known_regions",
    "parse_azureml_host",
    "parse_cloud_host",
    "parse_sagemaker_host",
    "parse_vertex_host",
    "pattern_problem",
    "plaintext_proxy",
    "redact_url",
    "region_cloud",
    "region_problem",
    "same_destination",
    "split_host",
    "suggest",
    "url_boundary",
]


def url_boundary(
    provider: str,
    url: str,
    *,
    region: str | None,
    retention: str | None = None,
    network_path: str | None = None,
    loopback_kind: LocationKind = "customer-cloud",
) -> Boundary:
    """The boundary of requests an HTTP provider sends to ``url``, derived from its host:
    a known cloud endpoint host (Azure ML, Vertex, SageMaker) is ``customer-cloud`` in the
    region the host names; any other host is ``third-party`` unless the policy's
    ``trusted_endpoints`` vouches for it; a loopback host is ``loopback_kind`` (a local
    server standing in for the cloud, in tests). TLS is what the scheme says; ``endpoint``
    keeps no credentials (the Boundary redacts them). A plain-HTTP ``url`` that httpx
    sends through a proxy from the environment (``HTTP_PROXY`` / ``ALL_PROXY`` less
    ``NO_PROXY``) is read in full by that proxy: the proxy is the host the gate judges,
    and the network path is ``http-proxy``.

    :param region: the region the config declares; the gate refuses it when the host
        contradicts it.
    """
    from .._types import Boundary

    try:
        destination: Destination | None = derive_destination(url)
    except ValueError:
        destination = None  # the gate refuses the endpoint by name
    loopback = destination is not None and destination.kind == "loopback"
    parsed = destination.cloud_host if destination is not None else None
    known = parsed is not None and parsed.problem is None
    kind: LocationKind = loopback_kind if loopback else "customer-cloud" if known else "third-party"
    proxy = plaintext_proxy(url, client="httpx")
    return Boundary(
        provider=provider,
        location_kind=kind,
        region=region,
        network_path=network_path or ("http-proxy" if proxy else "loopback" if loopback else "network"),
        host=proxy,
        endpoint=url,
        tls=url.lower().startswith("https://"),
        retention=retention,
        cloud=parsed.cloud if parsed is not None else None,
        region_source="destination" if known and parsed is not None and parsed.region == region else "declared",
    )
