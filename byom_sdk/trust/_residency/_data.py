"""The shipped, dated residency data: region lists per cloud and the jurisdiction table.

Every file is read on first use (never at import time) and cached for the process. The
AWS part is generated from botocore by ``scripts/update_residency_data.py``; the Google
Cloud and Azure lists and the jurisdiction table are maintained by hand, each entry with
its sources and date (see docs/residency.md).
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any, Literal, cast

__all__ = [
    "CLOUDS",
    "Cloud",
    "aws_partitions",
    "data_versions",
    "gcp_locations",
    "jurisdiction_codes",
    "jurisdiction_problem",
    "jurisdiction_regions",
    "jurisdictions_of",
    "known_regions",
    "pattern_problem",
    "region_cloud",
    "region_problem",
    "suggest",
]

Cloud = Literal["aws", "gcp", "azure"]
CLOUDS: tuple[Cloud, ...] = ("aws", "gcp", "azure")
CLOUD_NAMES: dict[str, str] = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure"}


@functools.cache
def _load(name: str) -> Mapping[str, Any]:
    text = resources.files("byom_sdk.trust._residency").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return cast("Mapping[str, Any]", json.loads(text))


def aws_partitions() -> Mapping[str, Any]:
    """botocore's partitions: regions (with descriptions), DNS suffixes, sagemaker-runtime."""
    return cast("Mapping[str, Any]", _load("aws.json")["partitions"])


def gcp_locations() -> Mapping[str, Any]:
    """Google Cloud locations: regions, the ``us`` / ``eu`` multi-regions and ``global``."""
    return cast("Mapping[str, Any]", _load("gcp.json")["locations"])


def _azure_regions() -> Mapping[str, Any]:
    return cast("Mapping[str, Any]", _load("azure.json")["regions"])


def data_versions() -> dict[str, str]:
    """The date (and botocore version) of each shipped file, for docs and audit context."""
    aws = _load("aws.json")
    return {
        "aws": f"{aws['generated']} (botocore {aws['botocore_version']})",
        "gcp": str(_load("gcp.json")["as_of"]),
        "azure": str(_load("azure.json")["as_of"]),
        "jurisdictions": str(_load("jurisdictions.json")["as_of"]),
    }


@functools.cache
def known_regions(cloud: Cloud) -> frozenset[str]:
    """Every region (location) name the shipped data knows for ``cloud``."""
    if cloud == "aws":
        return frozenset(r for part in aws_partitions().values() for r in part["regions"])
    if cloud == "gcp":
        return frozenset(gcp_locations())
    if cloud == "azure":
        return frozenset(_azure_regions())
    raise ValueError(f"unknown cloud {cloud!r}; expected one of {list(CLOUDS)}")


@functools.cache
def _all_regions() -> dict[str, Cloud]:
    owner: dict[str, Cloud] = {}
    for cloud in CLOUDS:
        for region in known_regions(cloud):
            # The three naming schemes are disjoint (eu-west-1 / europe-west1 / westeurope).
            owner.setdefault(region, cloud)
    return owner


def region_cloud(region: str) -> Cloud | None:
    """The cloud whose region list holds ``region``, or ``None`` for an unknown name."""
    return _all_regions().get(region)


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The nearest names to ``name`` (difflib), closest first."""
    return difflib.get_close_matches(name.lower(), sorted(set(candidates)), n=n, cutoff=0.6)


def _did_you_mean(names: list[str]) -> str:
    return f" (did you mean {', '.join(repr(n) for n in names)}?)" if names else ""


def region_problem(region: str, cloud: Cloud | None = None) -> str | None:
    """Why ``region`` is not a known region name (of ``cloud`` when given), or ``None``."""
    if cloud is None:
        if region in _all_regions():
            return None
        close = suggest(region, _all_regions())
        return f"'{region}' is not a known AWS, Google Cloud or Azure region{_did_you_mean(close)}"
    if region in known_regions(cloud):
        return None
    return (
        f"'{region}' is not a known {CLOUD_NAMES[cloud]} region{_did_you_mean(suggest(region, known_regions(cloud)))}"
    )


def _is_pattern(value: str) -> bool:
    return any(c in value for c in "*?[")


@functools.cache
def _pattern_candidates() -> tuple[str, ...]:
    found: set[str] = set()
    for region in _all_regions():
        pieces = region.split("-")
        for i in range(1, len(pieces)):
            found.add("-".join(pieces[:i]) + "-*")
    return tuple(sorted(found))


def pattern_problem(pattern: str) -> str | None:
    """Why an ``allowed_regions`` entry can never match, or ``None``.

    A literal must be a known region of some cloud; a glob (``eu-*``, ``europe-*``) must
    match at least one known region, so a typo cannot silently refuse (or admit) nothing.
    """
    if pattern == "global":
        return None
    if not _is_pattern(pattern):
        return region_problem(pattern)
    if any(fnmatch.fnmatchcase(region, pattern) for region in _all_regions()):
        return None
    return f"pattern '{pattern}' matches no known region{_did_you_mean(suggest(pattern, _pattern_candidates()))}"


@functools.cache
def _jurisdiction_table() -> dict[str, dict[Cloud, frozenset[str]]]:
    raw = _load("jurisdictions.json")["jurisdictions"]
    table: dict[str, dict[Cloud, frozenset[str]]] = {}

    def expand(code: str) -> dict[Cloud, frozenset[str]]:
        if code in table:
            return table[code]
        entry = raw[code]
        regions: dict[Cloud, set[str]] = {cloud: set(entry.get(cloud, {}).get("regions", ())) for cloud in CLOUDS}
        for included in entry.get("includes", ()):
            for cloud, names in expand(included).items():
                regions[cloud] |= names
        table[code] = {cloud: frozenset(names) for cloud, names in regions.items()}
        return table[code]

    for code in raw:
        expand(code)
    return table


def jurisdiction_codes() -> tuple[str, ...]:
    """The jurisdictions the shipped table knows (``EU``, ``EEA``, ``UK``, ``CH``, ``US``…)."""
    return tuple(_jurisdiction_table())


def jurisdiction_problem(code: str) -> str | None:
    """Why ``code`` is not a jurisdiction of the table, or ``None``."""
    if code in _jurisdiction_table():
        return None
    codes = jurisdiction_codes()
    close = difflib.get_close_matches(code.upper(), codes, n=3, cutoff=0.5)
    return f"'{code}' is not a known jurisdiction{_did_you_mean(close)}; known: {', '.join(codes)}"


def jurisdiction_regions(code: str) -> dict[Cloud, frozenset[str]]:
    """The regions of each cloud that lie in jurisdiction ``code``.

    :raises KeyError: for a code the table does not have.
    """
    return dict(_jurisdiction_table()[code])


def jurisdictions_of(region: str, cloud: Cloud | None = None) -> frozenset[str]:
    """Every jurisdiction ``region`` lies in (empty for ``global`` and unlisted regions)."""
    owner = cloud or region_cloud(region)
    if owner is None:
        return frozenset()
    return frozenset(code for code, clouds in _jurisdiction_table().items() if region in clouds[owner])
