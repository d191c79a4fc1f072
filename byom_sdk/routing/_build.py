"""Routes built for a Client: names checked, every target gated at load, hop pipelines made.

A route is refused when the Client is built — before any call — if any alias it may send to
(a target, the canary, a fallback, the shadow) has a boundary outside the route's policy
(the ``[trust]`` policy with the route's own ``trust`` table merged over it) or outside the
target's own policy. The same check runs again on every hop at call time: the target's
gate, and the route step where the route's policy differs from the target's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from .. import _errors
from .._errors import ByomError, ConfigError
from .._pipeline import Pipeline
from ._config import RouteConfig, parse_route
from ._hops import Hop, RouteStep
from ._model import RoutedModel

if TYPE_CHECKING:
    from .._client import Client
    from .._facade import ManagedModel
    from .._retry import RetryPolicy
    from ..trust._policy import TrustPolicy

__all__ = ["build_route", "parse_routes", "route_aliases"]


def parse_routes(raw: Mapping[str, Any] | None, *, models: Collection[str], source: str) -> dict[str, RouteConfig]:
    """Validate every ``[routes.NAME]`` table against the configured model aliases."""
    routes: dict[str, RouteConfig] = {}
    if raw is None:
        return routes
    if not isinstance(raw, Mapping):
        raise ConfigError("[routes] must be a table of route names", source=source, field="routes")
    configured = ", ".join(sorted(models)) or "none"
    for name, table in raw.items():
        if name in models:
            raise ConfigError(
                f"route '{name}' has the name of a model alias (routes and models share one namespace)",
                source=source,
                field=f"routes.{name}",
            )
        config = parse_route(name, table, source=source)
        for alias, field in config.aliases():
            if alias not in models:
                hint = "; a route's targets are model aliases, never routes" if alias in raw else ""
                raise ConfigError(
                    f"route '{name}': {field} names '{alias}', which is no model alias "
                    f"(configured: {configured}){hint}",
                    source=source,
                    field=f"routes.{name}.{field}",
                )
        routes[name] = config
    return routes


def route_aliases(name: str, raw: Any, *, source: str) -> set[str]:
    """The model aliases one raw ``[routes.NAME]`` table may send to."""
    return {alias for alias, _ in parse_route(name, raw, source=source).aliases()}


def _bare(error: ConfigError) -> str:
    """The message of ``error`` without the file / model / field prefix it was given."""
    prefix = ": ".join(
        part
        for part in (
            error.source,
            f"model '{error.alias}'" if error.alias else None,
            f"field '{error.field}'" if error.field else None,
        )
        if part
    )
    return error.message.removeprefix(prefix + ": ") if prefix else error.message


def _policy_of(client: Client, alias: str) -> TrustPolicy:
    from ..trust._policy import merge_policy

    entry = client.entry(alias)
    return merge_policy(client.trust.policy, entry.trust if entry else None, source=client.source, alias=alias)


#: what a route's ``trust`` table may set: where its targets may be. Masking, scoring and
#: the rest are each target model's (its own steps run them), so a route table setting
#: them would be ignored while it reads as applied: refused instead.
_ROUTE_TRUST_KEYS = frozenset(
    {
        "allowed_regions",
        "allowed_jurisdictions",
        "trusted_endpoints",
        "allow_loopback",
        "allowed_location_kinds",
        "required_retention",
        "required_attestations",
        "require_tls",
    }
)


def _route_policy(client: Client, config: RouteConfig) -> TrustPolicy:
    from ..trust._policy import merge_policy

    for key in config.trust or ():
        if key not in _ROUTE_TRUST_KEYS:
            raise ConfigError(
                f"route '{config.name}': a route's trust table sets where its targets may be "
                f"({', '.join(sorted(_ROUTE_TRUST_KEYS))}); '{key}' is each target's: set it in [trust] or in "
                "the target model's own trust table",
                source=client.source,
                field=f"routes.{config.name}.trust.{key}",
            )
    try:
        return merge_policy(client.trust.policy, config.trust, source=client.source, alias=config.name)
    except ConfigError as exc:
        field = f"routes.{config.name}.{exc.field}" if exc.field else f"routes.{config.name}.trust"
        raise ConfigError(f"route '{config.name}': {_bare(exc)}", source=client.source, field=field) from None


def _check_targets(
    client: Client, config: RouteConfig, route_policy: TrustPolicy, models: Mapping[str, ManagedModel]
) -> None:
    from ..trust._gate import check_boundary

    for alias, field in config.aliases():
        boundary = models[alias].info.boundary
        for whose, policy in (("the route's", route_policy), (f"model '{alias}''s own", _policy_of(client, alias))):
            violation = next((d for d in check_boundary(boundary, policy) if d.result == "violation"), None)
            if violation is not None:
                raise ConfigError(
                    f"route '{config.name}': {field} '{alias}' is outside {whose} trust policy "
                    f"(rule '{violation.rule}': {violation.detail})",
                    source=client.source,
                    field=f"routes.{config.name}.{field}",
                )


def _template(target: ManagedModel, step: RouteStep, retry: RetryPolicy | None, deadline: float | None) -> Hop:
    from ..trust._step_gate import GateStep

    plain = list(target.pipeline.middleware)
    steps = list(plain)
    gate = next((i for i, m in enumerate(steps) if isinstance(m, GateStep)), -1)
    # Right after the target's gate: inside the audit (its refusals are recorded), before
    # plugin middleware and masking see the request.
    steps.insert(gate + 1, step)
    if retry is not None and deadline != retry.deadline:
        retry = retry.model_copy(update={"deadline": deadline})
    executors, wrap = target.pipeline.executors, target.pipeline.wrap_foreign
    refusing = Pipeline(steps, retry=retry, executors=executors, wrap_foreign=wrap)
    # Without a policy of its own to check, the step has nothing to do on a normal hop.
    pipeline = (
        refusing if step.policy is not None else Pipeline(plain, retry=retry, executors=executors, wrap_foreign=wrap)
    )
    return Hop.template(target, pipeline, refusing)


def build_route(client: Client, config: RouteConfig) -> RoutedModel:
    """The :class:`RoutedModel` of ``config``; its targets are the Client's own models."""
    models: dict[str, ManagedModel] = {}
    for alias, _ in config.aliases():
        built = client.model(alias)
        if isinstance(built, RoutedModel):  # parse_routes refuses it; a Client subclass might not
            raise ConfigError(f"route '{config.name}': '{alias}' is a route, not a model", source=client.source)
        models[alias] = built
    runtime = client.trust
    route_policy = _route_policy(client, config)
    if runtime.enabled:
        _check_targets(client, config, route_policy, models)
    retries: dict[str, RetryPolicy | None] = {alias: config.retry or models[alias].pipeline.retry for alias in models}
    first_retry = retries[config.targets[0]]
    deadline = config.deadline if config.deadline is not None else (first_retry.deadline if first_retry else None)
    templates: dict[str, Hop] = {}
    for alias, model in models.items():
        # The target's gate enforces its own policy; the route step adds the route's only
        # where it differs (a per-model or per-route ``trust`` table).
        differs = runtime.enabled and _policy_of(client, alias) != route_policy
        step = RouteStep(config.name, route_policy if differs else None)
        templates[alias] = _template(model, step, retries[alias], deadline)
    fallback_types: tuple[type[ByomError], ...] = tuple(getattr(_errors, name) for name in config.fallback_on)
    shadow = templates.get(config.shadow.target) if config.shadow is not None else None
    return RoutedModel(
        config,
        templates,
        retries,
        deadline=deadline,
        fallback_types=fallback_types,
        shadow=shadow,
    )
