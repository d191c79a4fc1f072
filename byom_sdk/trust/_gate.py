"""The residency gate: a model's boundary checked against the policy before egress.

Fail closed: where the policy requires something (a region list, zero retention, TLS,
an attestation) and the boundary does not say, the call is refused. Every rule is
evaluated so the audit record shows all decisions, and the first violation is raised.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from .._types import Boundary
from ._policy import TrustPolicy

__all__ = ["Decision", "check_boundary", "is_loopback"]


@dataclass(frozen=True)
class Decision:
    """One policy rule's outcome for one call (recorded in the audit record)."""

    rule: str
    result: str  # pass | violation | warn | block | off
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "result": self.result, "detail": self.detail}


def _host(endpoint: str) -> str:
    parts = urlsplit(endpoint if "//" in endpoint else f"//{endpoint}")
    return parts.hostname or ""


def is_loopback(endpoint: str | None) -> bool:
    """True for endpoints on 127.0.0.0/8, ::1 or ``localhost``."""
    if not endpoint:
        return False
    host = _host(endpoint)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _region_allowed(region: str, patterns: tuple[str, ...]) -> bool:
    if region == "global":
        # "you can't control or know which region": only an explicit "global" admits it.
        return "global" in patterns
    return any(fnmatch.fnmatchcase(region, pattern) for pattern in patterns)


def check_boundary(boundary: Boundary, policy: TrustPolicy) -> list[Decision]:
    """Every gate rule's decision for ``boundary`` (violations have ``result="violation"``)."""
    decisions: list[Decision] = []
    add = decisions.append
    local = boundary.location_kind == "process"

    if boundary.location_kind in policy.allowed_location_kinds:
        add(Decision("allowed_location_kinds", "pass", boundary.location_kind))
    else:
        add(
            Decision(
                "allowed_location_kinds",
                "violation",
                f"location kind '{boundary.location_kind}' is not in {list(policy.allowed_location_kinds)}",
            )
        )

    if policy.allowed_regions is not None and not local:
        if boundary.region is None:
            add(Decision("allowed_regions", "violation", "the model's region is unknown"))
        elif _region_allowed(boundary.region, policy.allowed_regions):
            add(Decision("allowed_regions", "pass", boundary.region))
        else:
            add(
                Decision(
                    "allowed_regions",
                    "violation",
                    f"region '{boundary.region}' matches none of {list(policy.allowed_regions)}",
                )
            )

    if policy.required_retention is not None:
        if boundary.retention == policy.required_retention:
            add(Decision("required_retention", "pass", boundary.retention))
        elif boundary.retention is None:
            add(Decision("required_retention", "violation", "the model's retention is unknown"))
        else:
            add(
                Decision(
                    "required_retention",
                    "violation",
                    f"retention is '{boundary.retention}', the policy requires '{policy.required_retention}'",
                )
            )

    for name in policy.required_attestations:
        found = boundary.attestation(name)
        if found is None:
            add(Decision(f"required_attestations.{name}", "violation", f"attestation '{name}' is missing"))
        elif not found.ok:
            add(
                Decision(
                    f"required_attestations.{name}",
                    "violation",
                    f"attestation '{name}' is not ok (value '{found.value}', from {found.source})",
                )
            )
        else:
            add(Decision(f"required_attestations.{name}", "pass", found.value))

    if policy.require_tls and not local:
        if is_loopback(boundary.endpoint):
            add(Decision("require_tls", "pass", "loopback endpoint"))
        elif boundary.tls is True:
            add(Decision("require_tls", "pass", "tls"))
        else:
            state = "off" if boundary.tls is False else "unknown"
            add(Decision("require_tls", "violation", f"TLS is {state} for endpoint {boundary.endpoint or '(unknown)'}"))
    return decisions
