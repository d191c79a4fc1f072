"""``[routes.NAME]`` in byom.toml: a route is a name the application calls like a model
alias, and the Client picks one of the route's targets (model aliases) for each call.

::

    [routes.support]
    targets = ["support-v1", "support-v2"]   # model aliases
    weights = [90, 10]                       # shares, normalised (0 drains a target)
    sticky = "user"                          # user | tenant | conversation (RequestMetadata)
    fallback = ["support-v1", "support-eu-backup"]  # tried in order when a hop fails
    fallback_on = ["Unavailable", "Throttled"]      # error types that move to the next hop
    deadline = 30                            # seconds, shared by every hop of one call
    circuit = { failures = 3, cooldown = 30 }

    [routes.support.canary]                  # a new version ramped up over time
    target = "support-v3"
    start = 2026-05-04T09:00:00Z
    ramp = [{ after = "0s", percent = 1 }, { after = "1h", percent = 10 }, { after = "1d", percent = 50 }]

    [routes.support.shadow]                  # a copy of each request, answer discarded
    target = "support-v4"
    percent = 100

Targets must be model aliases (a route never names another route), so every hop is one
model with its own pipeline: its gate, masking and audit run for each hop.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._config import describe_validation_error, interpolate
from .._errors import ConfigError
from .._retry import RetryPolicy

__all__ = [
    "FALLBACK_ERRORS",
    "CanaryConfig",
    "CircuitConfig",
    "RampStep",
    "RouteConfig",
    "ShadowConfig",
    "parse_duration",
    "parse_route",
]

FallbackError = Literal["Throttled", "Unavailable", "Timeout", "ModelError", "AuthError", "BadRequest", "ProviderError"]
#: error types a route may fall back on (the SDK's hierarchy; a class matches its subclasses).
FALLBACK_ERRORS: tuple[str, ...] = get_args(FallbackError)

StickyKey = Literal["user", "tenant", "conversation"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '15m'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise ValueError(f"{value!r} is not a duration (seconds, or a string like '90s', '15m', '2h', '1d')")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def _aware(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        # A ramp must start at the same instant in every process, whatever its time zone.
        raise ValueError("give the time zone (e.g. 2026-05-04T09:00:00Z)")
    if isinstance(value, date) and not isinstance(value, datetime):
        # A TOML date (2026-01-01) is midnight in whose time zone? Each process would say its own.
        raise ValueError(f"{value} is a date: give a date-time with its time zone (e.g. {value}T00:00:00Z)")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]

#: shares are normalised by their sum: beyond this, sums overflow to infinity.
_MAX_WEIGHT = 1e12


def _weight(value: Any) -> Any:
    if isinstance(value, bool):  # true would count as 1 and false drain a target, silently
        raise ValueError("a weight is a number, not true or false")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class RampStep(_Strict):
    """From ``after`` (a duration since the canary's start) on, the canary gets ``percent``."""

    after: Duration
    percent: float = Field(ge=0.0, le=100.0)


class CanaryConfig(_Strict):
    """A new version ramped up on a schedule: ``target`` gets the percent of the last step
    whose ``after`` has passed (0 before the first); the route's targets share the rest by
    their weights."""

    target: str = Field(min_length=1)
    start: Annotated[datetime, BeforeValidator(_aware)]
    ramp: tuple[RampStep, ...] = Field(min_length=1)

    @field_validator("ramp")
    @classmethod
    def _increasing(cls, ramp: tuple[RampStep, ...]) -> tuple[RampStep, ...]:
        for before, step in itertools.pairwise(ramp):
            if step.after <= before.after:
                raise ValueError("ramp steps must be in increasing order of 'after'")
        return ramp

    @property
    def start_epoch(self) -> float:
        return self.start.astimezone(timezone.utc).timestamp()


class ShadowConfig(_Strict):
    """A copy of ``percent`` % of the requests sent to ``target``, its answer discarded.

    :param max_in_flight: shadow calls running at once; beyond it a copy is dropped (and
        counted) rather than delaying or queueing behind the live traffic.
    """

    target: str = Field(min_length=1)
    percent: float = Field(default=100.0, ge=0.0, le=100.0)
    max_in_flight: int = Field(default=8, ge=1, le=256)


class CircuitConfig(_Strict):
    """Per target: ``failures`` consecutive fallback errors open its circuit; after
    ``cooldown`` seconds (or the endpoint's longer ``Retry-After``, up to ``max_cooldown``)
    one probe call is let through, which closes it again or re-opens it."""

    failures: int = Field(default=3, ge=1, le=1000)
    cooldown: Duration = 30.0
    max_cooldown: Duration = 300.0


class RouteConfig(_Strict):
    """One ``[routes.NAME]`` table."""

    name: str = Field(min_length=1)
    description: str = ""
    targets: tuple[str, ...] = Field(min_length=1)
    weights: tuple[Annotated[float, BeforeValidator(_weight)], ...] | None = None
    sticky: StickyKey | None = None
    salt: str | None = None
    canary: CanaryConfig | None = None
    shadow: ShadowConfig | None = None
    fallback: tuple[str, ...] = ()
    fallback_on: tuple[FallbackError, ...] = ("Throttled", "Unavailable")
    circuit: CircuitConfig = Field(default_factory=CircuitConfig)
    deadline: Annotated[Duration, Field(gt=0)] | None = None
    retry: RetryPolicy | None = None
    trust: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RouteConfig:
        if len(set(self.targets)) != len(self.targets):
            raise ValueError("targets: an alias is listed twice")
        if self.weights is not None:
            if len(self.weights) != len(self.targets):
                raise ValueError(f"weights: {len(self.weights)} weight(s) for {len(self.targets)} target(s)")
            if not all(math.isfinite(w) and w <= _MAX_WEIGHT for w in self.weights):
                raise ValueError(f"weights: every weight must be a finite number up to {_MAX_WEIGHT:g}")
            if any(w < 0 for w in self.weights):
                raise ValueError("weights: a weight cannot be negative (0 drains a target)")
            if not sum(self.weights) > 0:
                raise ValueError("weights: at least one weight must be above 0")
        if len(set(self.fallback)) != len(self.fallback):
            raise ValueError("fallback: an alias is listed twice")
        if self.canary is not None and self.canary.target in self.targets:
            raise ValueError(f"canary: target '{self.canary.target}' is already one of the targets")
        if self.shadow is not None and self.shadow.target in self.targets:
            raise ValueError(f"shadow: target '{self.shadow.target}' is one of the targets (it would answer twice)")
        return self

    @property
    def effective_weights(self) -> tuple[float, ...]:
        return self.weights if self.weights is not None else tuple(1.0 for _ in self.targets)

    def aliases(self) -> list[tuple[str, str]]:
        """Every alias the route may send to, with the field naming it."""
        named = [(alias, f"targets[{i}]") for i, alias in enumerate(self.targets)]
        if self.canary is not None:
            named.append((self.canary.target, "canary.target"))
        named.extend((alias, f"fallback[{i}]") for i, alias in enumerate(self.fallback))
        if self.shadow is not None:
            named.append((self.shadow.target, "shadow.target"))
        return named

    def hop_targets(self) -> list[str]:
        """Targets that can serve a call (everything but the shadow), in a stable order."""
        seen: dict[str, None] = dict.fromkeys(self.targets)
        if self.canary is not None:
            seen[self.canary.target] = None
        seen.update(dict.fromkeys(self.fallback))
        return list(seen)


def parse_route(name: str, raw: Any, *, source: str) -> RouteConfig:
    """Validate one ``[routes.NAME]`` table; errors name the file, the route and the field."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"route '{name}' must be a table", source=source, field=f"routes.{name}")
    data = interpolate(dict(raw), source=source, alias=None, path=f"routes.{name}")
    if "name" in data:
        raise ConfigError(f"route '{name}': 'name' is the table's name", source=source, field=f"routes.{name}.name")
    try:
        return RouteConfig.model_validate({**data, "name": name})
    except ValidationError as exc:
        field, _ = describe_validation_error(exc, prefix=f"routes.{name}")
        _, message = describe_validation_error(exc)
        message = message.removeprefix("<root>: ").replace("Value error, ", "")
        named = message.split(":", 1)[0].split(".", 1)[0]
        if field == f"routes.{name}" and named in RouteConfig.model_fields:
            field = f"{field}.{named}"  # a cross-field rule: its message starts with the key
        raise ConfigError(f"route '{name}': {message}", source=source, field=field) from None
