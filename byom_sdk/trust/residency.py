"""Public residency helpers for provider plugins and policy tooling.

Plugins describe where their client will connect with these functions (the trust gate
uses the same ones), so a plugin and the gate never disagree on what a host means::

    from byom_sdk.trust.residency import derive_destination, parse_sagemaker_host

Nothing here touches the network; the shipped region lists and the jurisdiction table are
read on first use (see docs/residency.md for their dates and sources).
"""

from __future__ import annotations

from ._residency import (
    CLOUDS,
    Cloud,
    CloudHost,
    Destination,
    HostKind,
    HostPort,
    classify_host,
    data_versions,
    derive_destination,
    host_of,
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
    redact_url,
    region_cloud,
    region_problem,
    same_destination,
    split_host,
    suggest,
)

__all__ = [
    "CLOUDS",
    "Cloud",
    "CloudHost",
    "Destination",
    "HostKind",
    "HostPort",
    "classify_host",
    "data_versions",
    "derive_destination",
    "host_of",
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
    "redact_url",
    "region_cloud",
    "region_problem",
    "same_destination",
    "split_host",
    "suggest",
]
