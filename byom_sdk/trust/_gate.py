"""The residency gate: a model's boundary checked against the policy before egress.

Decided on the destination, not on configuration: the region, cloud, location kind and
TLS of any non-loopback host are derived from the host itself (``_residency``); what a
plugin declares is only compared with them. Fail closed: where the policy requires
something (a region list, a jurisdiction, zero retention, TLS, an attestation) and the
destination does not show it, the call is refused. Every rule is evaluated so the audit
record shows all decisions (each naming the host and the rule), and the first violation
is raised.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field

from .._types import Boundary, LocationKind
from ._policy import TrustedEndpoint, TrustPolicy, host_pattern_matches
from ._residency import (
    Cloud,
    Destination,
    derive_destination,
    is_loopback,
    jurisdictions_of,
    region_cloud,
    region_problem,
)

__all__ = ["Decision", "check_boundary", "is_loopback"]

_TLS_SCHEMES = {"https": True, "grpcs": True, "wss": True, "http": False, "grpc": False, "ws": False}


@dataclass(frozen=True)
class Decision:
    """One policy rule's outcome for one call (recorded in the audit record)."""

    rule: str
    result: str  # pass | violation | warn | block | off
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "result": self.result, "detail": self.detail}


@dataclass
class _Where:
    """The destination as the gate judges it (derived, with what was declared beside it)."""

    kind: str  # process | undeclared | invalid | loopback | ip | dns
    label: str  # how every decision names the destination
    region: str | None = None
    cloud: Cloud | None = None
    how: str = ""  # how the region was found, for the decision details
    location_kind: LocationKind = "third-party"
    tls: bool | None = None
    contradictions: list[str] = field(default_factory=list)
    host_problem: str | None = None  # a cloud host naming a region the data does not know


def _address(hostname: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # "::ffff:10.20.0.5" connects to 10.20.0.5: an IPv4 range in trusted_endpoints covers it.
    address = ipaddress.ip_address(hostname)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(destination: Destination, entries: tuple[TrustedEndpoint, ...]) -> tuple[int, TrustedEndpoint] | None:
    for index, entry in enumerate(entries):
        pattern = entry.host
        if "/" in pattern:
            if destination.kind == "ip" and _address(destination.hostname) in ipaddress.ip_network(
                pattern, strict=False
            ):
                return index, entry
        elif host_pattern_matches(pattern, destination.hostname, destination.port):
            return index, entry
    return None


def _scheme_tls(boundary: Boundary) -> bool | None:
    """TLS as the endpoint's scheme says it; the declared flag only when there is no scheme."""
    if boundary.endpoint:
        try:
            scheme = derive_destination(boundary.endpoint).scheme  # cached per endpoint
        except ValueError:
            scheme = None
        if scheme in _TLS_SCHEMES:
            return _TLS_SCHEMES[scheme]
    return boundary.tls


def _resolve(boundary: Boundary, policy: TrustPolicy) -> _Where:
    declared_kind = boundary.location_kind
    if boundary.host is None:
        if declared_kind == "process":
            return _Where("process", "in-process (no destination host)", location_kind="process")
        # A plugin that reports no host at all: nothing to derive from, so its declared
        # region is judged as such and every decision says so.
        return _Where(
            "undeclared",
            "no destination host reported",
            region=boundary.region,
            cloud=region_cloud(boundary.region) if boundary.region else None,
            how="declared by the plugin",
            location_kind=declared_kind,
            tls=boundary.tls,
        )
    try:
        destination = derive_destination(boundary.host)
    except ValueError as exc:
        shown = "the destination host" if boundary.host.startswith("<") else f"host '{boundary.host}'"
        return _Where("invalid", shown, host_problem=str(exc), location_kind="third-party")
    label = f"host {destination.host}"
    if destination.kind == "loopback":
        return _Where(
            "loopback",
            f"loopback {label}",
            region=boundary.region,
            cloud=region_cloud(boundary.region) if boundary.region else None,
            how="declared in config: a loopback host names no region",
            location_kind=declared_kind,
            tls=True,  # never leaves the machine
        )
    where = _Where(destination.kind, label, tls=_scheme_tls(boundary))
    cloud_host = destination.cloud_host
    trusted = None if cloud_host is not None else _trusted(destination, policy.trusted_endpoints)
    if cloud_host is not None:
        where.region, where.cloud = cloud_host.region, cloud_host.cloud
        where.how = f"derived from the destination: {cloud_host.describe()}"
        where.location_kind = "customer-cloud"
        where.host_problem = cloud_host.problem
    elif trusted is not None:
        index, entry = trusted
        where.region = entry.region
        where.cloud = entry.cloud or region_cloud(entry.region)
        where.how = f"trusted_endpoints[{index}] (host '{entry.host}')"
        where.location_kind = entry.effective_location_kind
    else:
        where.how = "not derivable: the host is no known cloud endpoint and no trusted_endpoints entry names it"
    if where.region is not None:
        if boundary.region is not None and boundary.region != where.region:
            where.contradictions.append(
                f"the model is configured for region '{boundary.region}' but {label} is in '{where.region}'"
            )
        if boundary.signing_region is not None and boundary.signing_region != where.region:
            where.contradictions.append(
                f"requests are signed for region '{boundary.signing_region}' but {label} is in '{where.region}'"
            )
    return where


def _region_allowed(region: str, patterns: tuple[str, ...]) -> str | None:
    """The pattern that admits ``region``, or ``None``."""
    if region == "global":
        # "you can't control or know which region": only an explicit "global" admits it.
        return "global" if "global" in patterns else None
    return next((p for p in patterns if fnmatch.fnmatchcase(region, p)), None)


def _unknown_region(where: _Where, rule: str) -> Decision | None:
    """A refusal when ``where`` has no region, or one no shipped list knows."""
    if where.region is None:
        if where.kind == "loopback":
            return Decision(rule, "pass", f"{where.label}: no region, the request stays on this machine")
        if where.kind == "undeclared":
            return Decision(rule, "violation", f"{where.label} and no region declared: the region is unknown")
        return Decision(rule, "violation", f"{where.label}: the region cannot be derived ({where.how})")
    problem = region_problem(where.region, where.cloud)
    if problem is not None:
        return Decision(rule, "violation", f"{where.label}: {problem} ({where.how})")
    return None


def check_boundary(boundary: Boundary, policy: TrustPolicy) -> list[Decision]:
    """Every gate rule's decision for ``boundary`` (violations have ``result="violation"``)."""
    decisions: list[Decision] = []
    add = decisions.append
    where = _resolve(boundary, policy)
    label = where.label
    local = where.kind == "process"
    residency = policy.allowed_regions is not None or policy.allowed_jurisdictions is not None

    if where.kind == "invalid":
        add(Decision("destination", "violation", f"{label} cannot be read unambiguously: {where.host_problem}"))
    elif where.kind == "loopback":
        if policy.allow_loopback:
            add(Decision("allow_loopback", "pass", f"{label}: allowed by allow_loopback"))
        else:
            add(
                Decision(
                    "allow_loopback",
                    "violation",
                    f"{label} is on this machine; the policy must set allow_loopback = true to send there",
                )
            )
    elif where.contradictions:
        add(Decision("destination", "violation", "; ".join(where.contradictions)))
    elif where.host_problem is not None:
        # Stale shipped data must not break models that asked for no residency policy.
        add(Decision("destination", "violation" if residency else "warn", f"{label}: {where.host_problem}"))
    elif where.kind in ("ip", "dns"):
        # An underivable region is refused by the region rules (under a region policy);
        # here it is only flagged, so the audit shows it for every policy.
        add(
            Decision(
                "destination", "pass" if where.region else "warn", f"{label}: {where.region or 'region'} ({where.how})"
            )
        )
    else:
        add(
            Decision(
                "destination", "pass", f"{label}" + (f": region {where.region} ({where.how})" if where.region else "")
            )
        )

    if policy.allowed_regions is not None and not local:
        refused = _unknown_region(where, "allowed_regions")
        if refused is not None:
            add(refused)
        else:
            assert where.region is not None
            pattern = _region_allowed(where.region, policy.allowed_regions)
            if pattern is not None:
                add(Decision("allowed_regions", "pass", f"{label}: region '{where.region}' matches '{pattern}'"))
            else:
                add(
                    Decision(
                        "allowed_regions",
                        "violation",
                        f"{label}: region '{where.region}' ({where.how}) "
                        f"matches none of {list(policy.allowed_regions)}",
                    )
                )

    if policy.allowed_jurisdictions is not None and not local:
        refused = _unknown_region(where, "allowed_jurisdictions")
        if refused is not None:
            add(refused)
        else:
            assert where.region is not None
            found = jurisdictions_of(where.region, where.cloud)
            hits = [code for code in policy.allowed_jurisdictions if code in found]
            if hits:
                add(Decision("allowed_jurisdictions", "pass", f"{label}: region '{where.region}' is in {hits[0]}"))
            else:
                inside = f"in {', '.join(sorted(found))}" if found else "in no jurisdiction of the table"
                add(
                    Decision(
                        "allowed_jurisdictions",
                        "violation",
                        f"{label}: region '{where.region}' ({where.how}) is {inside}, "
                        f"not in {list(policy.allowed_jurisdictions)}",
                    )
                )

    kinds = policy.allowed_location_kinds
    if where.location_kind in kinds:
        add(Decision("allowed_location_kinds", "pass", f"{label}: {where.location_kind}"))
    else:
        add(
            Decision(
                "allowed_location_kinds",
                "violation",
                f"{label}: location kind '{where.location_kind}' is not in {list(kinds)}"
                + (f" ({where.how})" if where.kind in ("ip", "dns") else ""),
            )
        )

    if policy.required_retention is not None:
        if boundary.retention == policy.required_retention:
            add(Decision("required_retention", "pass", f"{label}: retention '{boundary.retention}'"))
        elif boundary.retention is None:
            add(Decision("required_retention", "violation", f"{label}: the model's retention is unknown"))
        else:
            add(
                Decision(
                    "required_retention",
                    "violation",
                    f"{label}: retention is '{boundary.retention}', the policy requires '{policy.required_retention}'",
                )
            )

    for name in policy.required_attestations:
        found_attestation = boundary.attestation(name)
        rule = f"required_attestations.{name}"
        if found_attestation is None:
            add(Decision(rule, "violation", f"{label}: attestation '{name}' is missing"))
        elif not found_attestation.ok:
            add(
                Decision(
                    rule,
                    "violation",
                    f"{label}: attestation '{name}' is not ok "
                    f"(value '{found_attestation.value}', from {found_attestation.source})",
                )
            )
        else:
            add(Decision(rule, "pass", f"{label}: {found_attestation.value}"))

    if policy.require_tls and not local:
        if where.kind == "loopback":
            add(Decision("require_tls", "pass", f"{label}: loopback, never leaves this machine"))
        elif where.tls is True:
            add(Decision("require_tls", "pass", f"{label}: tls"))
        else:
            state = "off" if where.tls is False else "unknown"
            add(
                Decision(
                    "require_tls",
                    "violation",
                    f"{label}: TLS is {state} for endpoint {boundary.endpoint or '(unknown)'}",
                )
            )
    return decisions
