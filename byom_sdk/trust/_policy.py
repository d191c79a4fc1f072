"""The trust policy: the ``[trust]`` table of byom.toml, overridable per model.

Every section is a frozen pydantic model with ``extra="forbid"`` so that a misspelled key
fails at load time (naming the file and the dotted field) instead of silently weakening
the policy. A model's ``trust = {...}`` table is deep-merged over the client policy.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .._errors import ConfigError
from .._validation import describe_validation_error

__all__ = [
    "AuditPolicy",
    "MaskingPolicy",
    "ScoreRule",
    "ScoringPolicy",
    "TelemetryPolicy",
    "TrustPolicy",
    "TrustedEndpoint",
    "VaultPolicy",
    "merge_policy",
    "validate_policy",
]

LocationKind = Literal["process", "customer-cloud", "third-party"]
ScoreAction = Literal["warn", "block"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class MaskingPolicy(_Strict):
    """What is masked before a request leaves the boundary, and how.

    :param enabled: ``False`` sends content unmasked (the gate and audit still apply).
    :param detectors: PII detector names from the registry (``builtin`` ships with the SDK;
        plugins add more, e.g. ``presidio``).
    :param entities: entity types to mask; ``None`` masks every type the detectors report.
    :param mode: ``placeholder`` (reversible ``<EMAIL_7f3a9c>``), ``redact`` (irreversible
        ``[EMAIL]``), ``refuse`` (the call is refused with ``PolicyViolation``) or
        ``pseudonym`` (reversible keyed pseudonyms ``<EMAIL_3f9a…>``: the same value gets the
        same placeholder in every process holding the key, per tenant; for batch workers
        that share no vault).
    :param pseudonym_key_env: environment variable holding the pseudonym key (mode
        ``pseudonym``; at least 16 bytes). Never the audit key.
    :param pseudonym_key_file: a file holding the pseudonym key on one line instead
        (relative to the byom.toml folder).
    :param pseudonym_bits: digest bits a pseudonym keeps (48-256, a multiple of 8).
    :param default_threshold: minimum detector score for a span to count.
    :param thresholds: per-entity minimum scores overriding ``default_threshold``.
    :param context_words: extra per-entity context words that raise a candidate's score.
    """

    enabled: bool = True
    detectors: tuple[str, ...] = ("builtin",)
    entities: tuple[str, ...] | None = None
    mode: Literal["placeholder", "redact", "refuse", "pseudonym"] = "placeholder"
    default_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    thresholds: dict[str, float] = Field(default_factory=dict)
    context_words: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    pseudonym_key_env: str | None = "BYOM_PSEUDONYM_KEY"
    pseudonym_key_file: str | None = None
    pseudonym_bits: int = Field(default=64, ge=48, le=256, multiple_of=8)

    @field_validator("thresholds")
    @classmethod
    def _in_unit_interval(cls, value: dict[str, float]) -> dict[str, float]:
        for entity, threshold in value.items():
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold for {entity} must be between 0 and 1, got {threshold}")
        return value


class ScoreRule(_Strict):
    """Scores at or above ``threshold`` trigger ``action``."""

    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    action: ScoreAction = "warn"


def _default_input_rules() -> dict[str, ScoreRule]:
    return {"injection": ScoreRule(threshold=0.5), "toxicity": ScoreRule(threshold=0.5)}


def _default_output_rules() -> dict[str, ScoreRule]:
    return {"toxicity": ScoreRule(threshold=0.5)}


class ScoringPolicy(_Strict):
    """Injection / toxicity scoring of inputs and outputs.

    :param scorers: scorer names from the registry (``kinds=("score",)`` detectors).
    :param input: category → rule for the request text.
    :param output: category → rule for the response text.
    :param stream: how an output ``block`` applies to streams: ``finish`` streams text as
        it comes and raises ``PolicyViolation`` instead of the finish event (text already
        delivered cannot be recalled); ``buffer`` holds all text back until it was scored.
    """

    enabled: bool = True
    scorers: tuple[str, ...] = ("injection-heuristic", "toxicity-heuristic")
    input: dict[str, ScoreRule] = Field(default_factory=_default_input_rules)
    output: dict[str, ScoreRule] = Field(default_factory=_default_output_rules)
    stream: Literal["finish", "buffer"] = "finish"


class AuditPolicy(_Strict):
    """Where and how each call is recorded.

    :param sink: audit sink name (``sqlite`` built in; ``memory`` for tests; more via the
        ``byom_audit_sinks`` hook).
    :param path: the SQLite file, relative to the byom.toml folder (or the working
        directory for an inline policy).
    :param config: extra configuration for a plugin sink (validated by its schema).
    :param capture_content: ``False`` (default) records only keyed hashes; ``"masked"``
        (or ``True``) also stores the masked prompt and response; ``"raw"`` stores the
        unmasked text (the audit store then holds PII).
    :param hmac_key_env: environment variable holding the key for content hashes and
        record MACs; when unset a random per-process key is used (hashes then only
        correlate records within one process, and records carry no MAC).
    :param on_failure: ``block`` (default) refuses a call whose audit record cannot be
        committed — before its request leaves — and fails the call if its outcome cannot
        be written; ``warn`` logs and lets the call go on. (``raise`` and ``log`` are the
        former names of the two.)
    """

    sink: str = "sqlite"
    path: str = "byom-audit.sqlite"
    config: dict[str, Any] = Field(default_factory=dict)
    capture_content: Union[bool, Literal["masked", "raw"]] = False
    hmac_key_env: str | None = "BYOM_AUDIT_KEY"
    on_failure: Literal["block", "warn", "raise", "log"] = "block"

    @property
    def content_mode(self) -> Literal["none", "masked", "raw"]:
        if self.capture_content is True or self.capture_content == "masked":
            return "masked"
        if self.capture_content == "raw":
            return "raw"
        return "none"


class VaultPolicy(_Strict):
    """The in-memory placeholder vault.

    :param ttl: seconds a conversation's vault lives after its last use.
    :param max_conversations: vaults kept at most (least recently used evicted first).
    """

    ttl: float = Field(default=3600.0, gt=0.0)
    max_conversations: int = Field(default=10_000, ge=1)


class TelemetryPolicy(_Strict):
    """OpenTelemetry spans (only when ``opentelemetry-api`` is importable).

    :param capture_content: add the *masked* messages as ``gen_ai.input.messages`` /
        ``gen_ai.output.messages`` (off by default, per the GenAI semantic conventions).
    """

    enabled: bool = True
    capture_content: bool = False


def _region_pattern(value: str) -> str:
    # Imported here: the region lists load on first use, never with ``import byom_sdk``.
    from ._residency import pattern_problem

    problem = pattern_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _jurisdiction(value: str) -> str:
    from ._residency import jurisdiction_problem

    code = value.upper()
    if jurisdiction_problem(code) is not None:
        raise ValueError(jurisdiction_problem(value))
    return code


RegionPattern = Annotated[str, AfterValidator(_region_pattern)]
Jurisdiction = Annotated[str, AfterValidator(_jurisdiction)]


_PORT_SUFFIX = re.compile(r":([0-9]{1,5})$")
_PATTERN_LABEL = re.compile(r"^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$")


def split_host_pattern(pattern: str) -> tuple[str, int | None]:
    """``pattern`` (lowercase, no network) as its host part and port."""
    if pattern.startswith("["):  # an IPv6 literal, maybe with a port
        host, _, rest = pattern[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    match = _PORT_SUFFIX.search(pattern)
    if match is not None and pattern.count(":") == 1:
        return pattern[: match.start()], int(match.group(1))
    return pattern, None


def host_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is no host pattern, or ``None``. A ``*`` stands for one whole DNS
    label (as in a TLS wildcard): ``*.vpce.corp.example`` or ``10.20.0.*``, never
    ``10.20.0.5.evil.example``; at least two labels must be literal."""
    host, port = split_host_pattern(pattern)
    if port is not None and not 0 < port < 65536:
        return f"'{pattern}': port {port} is out of range"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"'{pattern}' is no host, host:port, [IPv6] or IP network (an IPv6 glob is not supported)"
        return None
    labels = host.rstrip(".").split(".")
    if not all(_PATTERN_LABEL.match(label) for label in labels):
        return (
            f"'{pattern}' is no host pattern: labels are letters, digits, '-' and '_', and '*' stands "
            "for one whole label ('*.corp.example', '10.20.0.*')"
        )
    if sum(label != "*" for label in labels) < 2:
        return f"'{pattern}' would trust too many hosts; name at least two labels ('*.corp.example')"
    return None


def host_pattern_matches(pattern: str, hostname: str, port: int | None) -> bool:
    """Whether the destination ``hostname`` (lowercase) and ``port`` (effective) match."""
    host, wanted_port = split_host_pattern(pattern)
    if wanted_port is not None and wanted_port != port:
        return False
    if ":" in host or ":" in hostname:
        try:
            return ipaddress.ip_address(host) == ipaddress.ip_address(hostname)
        except ValueError:
            return False
    labels, names = host.rstrip(".").split("."), hostname.split(".")
    return len(labels) == len(names) and all(
        label == name or (label == "*" and name != "") for label, name in zip(labels, names, strict=True)
    )


class TrustedEndpoint(_Strict):
    """A destination whose region cannot be derived from its host, vouched for by the policy.

    For a custom proxy, a bare IP (a Private Service Connect address), or a private DNS
    name: the gate then treats ``host`` as standing for ``region``. Hosts the gate can
    derive (cloud endpoint hosts, loopback) are never overridden by an entry.

    :param host: an exact host (``proxy.corp.example``), ``host:port``, a glob
        (``*.vpce.corp.example``: each ``*`` is one whole label, as in a TLS wildcard) or an
        IP network (``10.20.0.0/16``); matched case-insensitively against the destination
        host (and its port, when the entry names one).
    :param region: the region the host stands for (a known AWS, Google Cloud or Azure name).
    :param cloud: ``aws``, ``gcp`` or ``azure``; the region must be one of its names.
    :param location_kind: what the host is. Without it an entry that names a ``cloud``
        counts as ``customer-cloud`` (like the cloud endpoints the gate recognises) and one
        without counts as ``third-party``.
    """

    host: str = Field(min_length=1)
    # cloud before region: the region is validated against the cloud's list.
    cloud: Literal["aws", "gcp", "azure"] | None = None
    region: str
    location_kind: LocationKind | None = None

    @field_validator("host")
    @classmethod
    def _host_pattern(cls, value: str) -> str:
        value = value.strip().lower()
        if "/" in value:
            try:
                network = ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"'{value}' is neither a host, a glob nor an IP network like 10.0.0.0/8") from None
            if network.prefixlen == 0:
                raise ValueError(f"'{value}' would trust every address; name a narrower network")
            return value
        if not value.strip("*?.:[]"):
            raise ValueError(f"'{value}' would trust every host; name the host (or a narrower glob)")
        if "://" in value or "@" in value:
            raise ValueError(f"give the host ('{value.split('://')[-1].split('/')[0]}'), not a URL")
        problem = host_pattern_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str, info: ValidationInfo) -> str:
        from ._residency import region_problem

        problem = region_problem(value, info.data.get("cloud"))
        if problem is not None:
            raise ValueError(problem)
        return value

    @property
    def effective_location_kind(self) -> LocationKind:
        if self.location_kind is not None:
            return self.location_kind
        return "customer-cloud" if self.cloud is not None else "third-party"


class TrustPolicy(_Strict):
    """The trust policy (``[trust]`` in byom.toml; per model ``trust = {...}``).

    :param allowed_regions: region names or ``fnmatch`` patterns (``"eu-*"``,
        ``"europe-*"``); ``None`` allows any region. Checked against the region derived
        from the destination host, never a configured one alone. Every literal must be a
        known AWS, Google Cloud or Azure region and every pattern must match one. A
        destination whose region cannot be derived is refused unless
        ``trusted_endpoints`` names it; ``global`` only matches a pattern that is exactly
        ``"global"``. In-process models have no region and are exempt.
    :param allowed_jurisdictions: jurisdiction codes (``"EU"``, ``"EEA"``, ``"UK"``,
        ``"CH"``, ``"US"``…) from the shipped table (docs/residency.md); the destination's
        region must lie in one of them. Combined with ``allowed_regions``, both must hold.
    :param trusted_endpoints: hosts whose region cannot be derived (custom proxies, bare
        IPs, private DNS names) and the region each stands for; see :class:`TrustedEndpoint`.
    :param allow_loopback: allow destinations on this machine (``127.0.0.0/8``, ``::1``,
        ``localhost``): local servers and tests. Off by default: loopback is a network path
        of its own (a tunnel or a local proxy can lead anywhere).
    :param allowed_location_kinds: where data may go (third-party is off by default). For
        a non-loopback host the kind is derived: a known cloud endpoint host is
        ``customer-cloud``, any other host ``third-party`` unless a trusted endpoint
        entry says otherwise.
    :param required_retention: ``"none"`` requires a boundary known to retain nothing.
    :param required_attestations: attestation names that must be present with ``ok``.
    :param require_tls: non-loopback endpoints must use TLS.
    """

    allowed_regions: tuple[RegionPattern, ...] | None = None
    allowed_jurisdictions: tuple[Jurisdiction, ...] | None = None
    trusted_endpoints: tuple[TrustedEndpoint, ...] = ()
    allow_loopback: bool = False
    allowed_location_kinds: tuple[LocationKind, ...] = ("process", "customer-cloud")
    required_retention: Literal["none"] | None = None
    required_attestations: tuple[str, ...] = ()
    require_tls: bool = True
    masking: MaskingPolicy = Field(default_factory=MaskingPolicy)
    scoring: ScoringPolicy = Field(default_factory=ScoringPolicy)
    audit: AuditPolicy = Field(default_factory=AuditPolicy)
    vault: VaultPolicy = Field(default_factory=VaultPolicy)
    telemetry: TelemetryPolicy = Field(default_factory=TelemetryPolicy)


#: Sections that are shared by all models of one Client (one sink, one vault store).
_CLIENT_ONLY = {
    ("audit", "sink"),
    ("audit", "path"),
    ("audit", "config"),
    ("audit", "hmac_key_env"),
    ("vault", "ttl"),
    ("vault", "max_conversations"),
}


def validate_policy(
    value: TrustPolicy | Mapping[str, Any] | None, *, source: str, alias: str | None = None
) -> TrustPolicy:
    """Validate a ``[trust]`` mapping; errors become ``ConfigError`` naming the field."""
    if isinstance(value, TrustPolicy):
        return value
    if value is not None and not isinstance(value, Mapping):
        raise ConfigError("must be a table", source=source, alias=alias, field="trust")
    try:
        return TrustPolicy.model_validate(dict(value or {}))
    except ValidationError as exc:
        field, message = describe_validation_error(exc, prefix="trust")
        raise ConfigError(message, source=source, alias=alias, field=field) from None


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_policy(policy: TrustPolicy, override: Mapping[str, Any] | None, *, source: str, alias: str) -> TrustPolicy:
    """``policy`` with a model's ``trust = {...}`` table deep-merged over it.

    Mappings merge key by key (``masking = {mode = "redact"}`` keeps the other masking
    keys); lists and scalars replace. Client-wide keys (the audit sink and vault) cannot
    be overridden per model.
    """
    if not override:
        return policy
    if not isinstance(override, Mapping):
        raise ConfigError("must be a table", source=source, alias=alias, field="trust")
    for section, key in _CLIENT_ONLY:
        inner = override.get(section)
        if isinstance(inner, Mapping) and key in inner:
            raise ConfigError(
                f"'{section}.{key}' is client-wide; set it in [trust], not per model",
                source=source,
                alias=alias,
                field=f"trust.{section}.{key}",
            )
    base = policy.model_dump(mode="python", exclude_unset=True)
    try:
        return TrustPolicy.model_validate(_deep_merge(base, override))
    except ValidationError as exc:
        field, message = describe_validation_error(exc, prefix="trust")
        raise ConfigError(message, source=source, alias=alias, field=field) from None
