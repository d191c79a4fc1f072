"""The trust policy: the ``[trust]`` table of byom.toml, overridable per model.

Every section is a frozen pydantic model with ``extra="forbid"`` so that a misspelled key
fails at load time (naming the file and the dotted field) instead of silently weakening
the policy. A model's ``trust = {...}`` table is deep-merged over the client policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._errors import ConfigError

__all__ = [
    "AuditPolicy",
    "MaskingPolicy",
    "ScoreRule",
    "ScoringPolicy",
    "TelemetryPolicy",
    "TrustPolicy",
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
        ``[EMAIL]``) or ``refuse`` (the call is refused with ``PolicyViolation``).
    :param default_threshold: minimum detector score for a span to count.
    :param thresholds: per-entity minimum scores overriding ``default_threshold``.
    :param context_words: extra per-entity context words that raise a candidate's score.
    """

    enabled: bool = True
    detectors: tuple[str, ...] = ("builtin",)
    entities: tuple[str, ...] | None = None
    mode: Literal["placeholder", "redact", "refuse"] = "placeholder"
    default_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    thresholds: dict[str, float] = Field(default_factory=dict)
    context_words: dict[str, tuple[str, ...]] = Field(default_factory=dict)

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
    :param on_failure: ``raise`` (default) fails the call when its record cannot be
        written; ``log`` only logs.
    """

    sink: str = "sqlite"
    path: str = "byom-audit.sqlite"
    config: dict[str, Any] = Field(default_factory=dict)
    capture_content: Union[bool, Literal["masked", "raw"]] = False
    hmac_key_env: str | None = "BYOM_AUDIT_KEY"
    on_failure: Literal["raise", "log"] = "raise"

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


class TrustPolicy(_Strict):
    """The trust policy (``[trust]`` in byom.toml; per model ``trust = {...}``).

    :param allowed_regions: ``fnmatch`` patterns (``"eu-*"``); ``None`` allows any region.
        A model with an unknown region is refused when a list is given; ``global`` only
        matches a pattern that is exactly ``"global"``. In-process models have no region
        and are exempt.
    :param allowed_location_kinds: where data may go (third-party is off by default).
    :param required_retention: ``"none"`` requires a boundary known to retain nothing.
    :param required_attestations: attestation names that must be present with ``ok``.
    :param require_tls: non-loopback endpoints must use TLS.
    """

    allowed_regions: tuple[str, ...] | None = None
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


def _describe(error: ValidationError, prefix: str) -> tuple[str, str]:
    parts = []
    first = ""
    for item in error.errors():
        location = ".".join(str(p) for p in item["loc"])
        dotted = f"{prefix}.{location}" if location else prefix
        first = first or dotted
        parts.append(f"{dotted}: {item['msg']}")
    return first, "; ".join(parts)


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
        field, message = _describe(exc, "trust")
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
        field, message = _describe(exc, "trust")
        raise ConfigError(message, source=source, alias=alias, field=field) from None
