"""Residency: where a request really goes, decided offline from its destination host.

The trust gate (``_gate.py``) uses these functions on every call; provider plugins use
them to describe the destination their client resolved. Nothing here touches the network
or reads the data files at import time.

- Hosts: :func:`split_host`, :func:`classify_host` (loopback / IP / DNS),
  :func:`redact_url`, :func:`derive_destination`.
- Proxies: :func:`plaintext_proxy` (where a plain-HTTP request's bytes really go).
- Cloud endpoint hosts: :func:`parse_sagemaker_host`, :func:`parse_vertex_host`,
  :func:`parse_azureml_host`, :func:`parse_cloud_host`.
- Region names: :func:`known_regions`, :func:`region_problem` (did-you-mean),
  :func:`pattern_problem`, :func:`region_cloud`.
- Jurisdictions: :func:`jurisdictions_of`, :func:`jurisdiction_regions`,
  :func:`jurisdiction_codes`, :func:`jurisdiction_problem`.
"""

from __future__ import annotations

from ._data import (
    CLOUDS,
    Cloud,
    data_versions,
    jurisdiction_codes,
    jurisdiction_problem,
    jurisdiction_regions,
    jurisdictions_of,
    known_regions,
    pattern_problem,
    region_cloud,
    region_problem,
    suggest,
)
from ._hosts import HostKind, HostPort, classify_host, host_of, is_loopback, redact_url, same_destination, split_host
from ._parse import (
    CloudHost,
    Destination,
    derive_destination,
    parse_azureml_host,
    parse_cloud_host,
    parse_sagemaker_host,
    parse_vertex_host,
)
from ._proxy import ProxyClient, plaintext_proxy

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
]
