"""Model versions and routes: ``[routes.NAME]`` tables called like model aliases.

- :mod:`._config`: the route schema (targets, weights, sticky key, canary ramp, shadow,
  fallback order and error types, circuit breaker, deadline);
- :mod:`._decide`: the pure, cross-process-deterministic choice of a target;
- :mod:`._circuit`: one circuit breaker per target;
- :mod:`._hops`, :mod:`._model`: a routed call as one plan of hops, each through its
  target's own pipeline; :mod:`._shadow`: shadow copies;
- :mod:`._build`: routes checked against the trust policy when the Client is built;
- :mod:`._cli`: ``byom routes`` and ``byom versions``.

See docs/versions-and-routing.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._build import build_route, parse_routes
    from ._circuit import Circuit
    from ._config import CanaryConfig, CircuitConfig, RampStep, RouteConfig, ShadowConfig, parse_route
    from ._decide import Choice, Router, sticky_hash
    from ._model import RoutedModel

__all__ = [
    "CanaryConfig",
    "Choice",
    "Circuit",
    "CircuitConfig",
    "RampStep",
    "RouteConfig",
    "RoutedModel",
    "Router",
    "ShadowConfig",
    "build_route",
    "parse_route",
    "parse_routes",
    "sticky_hash",
]

# Resolved on first use: the CLI hook module (._plugin) is loaded with every registry and
# must not pull in the routing machinery.
_LAZY = {
    "CanaryConfig": "._config",
    "Choice": "._decide",
    "Circuit": "._circuit",
    "CircuitConfig": "._config",
    "RampStep": "._config",
    "RouteConfig": "._config",
    "RoutedModel": "._model",
    "Router": "._decide",
    "ShadowConfig": "._config",
    "build_route": "._build",
    "parse_route": "._config",
    "parse_routes": "._build",
    "sticky_hash": "._decide",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
