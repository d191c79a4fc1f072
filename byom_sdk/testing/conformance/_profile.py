"""What a plugin declares so ``byom conformance ALIAS`` can run every check: its fault
scenarios, a slow scenario, a tool request, and its known limitations.

A plugin's own test suite gives these to :class:`ModelConformance` as methods; for a model
configured in a byom.toml the CLI has no test suite, so the plugin offers a *profile*::

    # pyproject.toml
    [project.entry-points."byom.conformance"]
    acme = "byom_acme.testing:conformance_profile"     # name = the provider name

    # byom_acme/testing.py
    def conformance_profile(config: AcmeConfig) -> ConformanceProfile:
        server = AcmeTestServer().start()              # scenarios on 127.0.0.1
        return ConformanceProfile(
            faulty_model=lambda fault: AcmeModel(config.model_copy(update={"endpoint": server.fault_url(fault)})),
            slow_model=lambda: AcmeModel(config.model_copy(update={"endpoint": server.slow_url(2.0)})),
            slow_seconds=2.0,
            known_limitations={"stream.stop": "Acme's streaming API ignores stop strings (ACME-123)"},
            cleanup=server.stop,
        )

The factory gets the alias's validated provider config. Known limitations run as strict
expected failures: the run fails as soon as the plugin starts passing one.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..._errors import PluginError

if TYPE_CHECKING:
    from ..._provider import Provider
    from ..._types import GenerateRequest

__all__ = ["ENTRY_POINT_GROUP", "ConformanceProfile", "conformance_profile", "register_profile"]

#: the entry-point group naming each provider's profile factory.
ENTRY_POINT_GROUP = "byom.conformance"

ProfileFactory = Callable[[Any], "ConformanceProfile | None"]


@dataclass
class ConformanceProfile:
    """The scenarios and limitations a plugin declares for its configured models.

    :param faulty_model: ``fault -> Provider | None`` (see ``make_faulty_model``).
    :param slow_model: a provider whose endpoint stalls ``slow_seconds`` (see
        ``make_slow_model``).
    :param slow_seconds: how long the slow scenario stalls.
    :param tool_request: ``model -> GenerateRequest`` that makes the model call a tool.
    :param throttled_retry_after: the ``Retry-After`` the throttled scenario sends.
    :param unreachable_model: a provider pointed where nothing listens (see
        ``make_unreachable_model``).
    :param broken_stream_model: a provider whose streams break after the first event (see
        ``make_broken_stream_model``).
    :param fault_requests: ``fault -> int | None``, the requests a fault scenario has
        received so far (see ``fault_requests``).
    :param known_limitations: ``{check_id: reason}``, applied as strict expected failures.
    :param cleanup: called once the run ends (stop the scenario servers).
    """

    faulty_model: Callable[[str], Provider | None] | None = None
    slow_model: Callable[[], Provider | None] | None = None
    slow_seconds: float = 1.0
    tool_request: Callable[[Provider], GenerateRequest | None] | None = None
    throttled_retry_after: float | None = None
    unreachable_model: Callable[[], Provider | None] | None = None
    broken_stream_model: Callable[[], Provider | None] | None = None
    fault_requests: Callable[[str], int | None] | None = None
    known_limitations: Mapping[str, str] = field(default_factory=dict)
    cleanup: Callable[[], None] | None = None

    def close(self) -> None:
        cleanup, self.cleanup = self.cleanup, None
        if cleanup is not None:
            cleanup()


_REGISTERED: dict[str, ProfileFactory] = {}


def register_profile(provider: str, factory: ProfileFactory | None) -> None:
    """Register (or, with ``None``, remove) the profile factory of ``provider`` in this
    process; takes precedence over the ``byom.conformance`` entry points."""
    if factory is None:
        _REGISTERED.pop(provider, None)
    else:
        _REGISTERED[provider] = factory


def _entry_point(provider: str) -> ProfileFactory | None:
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == provider:
            try:
                loaded = entry.load()
            except Exception as exc:
                raise PluginError(
                    f"conformance profile of provider '{provider}' ({entry.value}) failed to load: "
                    f"{type(exc).__name__}: {exc}",
                    plugin=provider,
                ) from exc
            if not callable(loaded):
                raise PluginError(f"conformance profile '{entry.value}' is not callable", plugin=provider)
            factory: ProfileFactory = loaded
            return factory
    return None


def conformance_profile(provider: str, config: Any) -> ConformanceProfile | None:
    """The profile ``provider`` declares for a model built from ``config``, or ``None``.

    :raises PluginError: the declared profile failed to load or to build.
    """
    factory = _REGISTERED.get(provider) or _BUILTIN.get(provider) or _entry_point(provider)
    if factory is None:
        return None
    try:
        profile = factory(config)
    except Exception as exc:
        raise PluginError(
            f"conformance profile of provider '{provider}' failed: {type(exc).__name__}: {exc}", plugin=provider
        ) from exc
    if profile is not None and not isinstance(profile, ConformanceProfile):
        raise PluginError(
            f"conformance profile of provider '{provider}' returned {type(profile).__name__}, "
            "expected a ConformanceProfile",
            plugin=provider,
        )
    return profile


def _scripted_profile(config: Any) -> ConformanceProfile:
    """The built-in ``scripted`` test double's scenarios: every fault and a slow model."""
    from ..._errors import AuthError, BadRequest, ByomError, ModelError, Throttled, Timeout, Unavailable
    from .._scripted import ScriptedModel

    errors: dict[str, Callable[[], ByomError]] = {
        "throttled": lambda: Throttled("scripted throttle", provider="scripted", status_code=429, retry_after=2.0),
        "unavailable": lambda: Unavailable("scripted outage", provider="scripted", status_code=503),
        "bad_request": lambda: BadRequest("scripted: field 'x' is invalid", provider="scripted", status_code=422),
        "timeout": lambda: Timeout("scripted read timeout", provider="scripted"),
        "model_error": lambda: ModelError("scripted model error", provider="scripted", status_code=424),
        "auth": lambda: AuthError("scripted: credentials refused", provider="scripted", status_code=401),
    }

    def faulty(fault: str) -> Provider | None:
        make = errors.get(fault)
        if make is None:
            return None
        model = ScriptedModel.from_config(config)
        model.fail_always(make)
        return model

    def slow() -> Provider:
        model = ScriptedModel.from_config(config)
        model.delay = model.stall = 0.5
        return model

    return ConformanceProfile(faulty_model=faulty, slow_model=slow, slow_seconds=0.5, throttled_retry_after=2.0)


_BUILTIN: dict[str, ProfileFactory] = {"scripted": _scripted_profile}
