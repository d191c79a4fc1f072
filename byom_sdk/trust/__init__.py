"""The trust boundary (residency gate, masking, scoring, audit).

Interim pass-through runtime: the full pipeline lands with the trust issue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from .._middleware import CallContext, Interceptor

if TYPE_CHECKING:
    from .._model import Model
    from .._plugins import Registry

__all__ = ["TrustPolicy", "TrustRuntime"]


class TrustPolicy(BaseModel):
    """The trust policy (``[trust]`` in byom.toml)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class _PassThrough:
    def open(self, call: CallContext) -> Interceptor | None:
        return None


class TrustRuntime:
    """Shared trust state of one Client."""

    def __init__(self, policy: TrustPolicy, *, enabled: bool) -> None:
        self.policy = policy
        self.enabled = enabled

    @classmethod
    def create(
        cls, policy: TrustPolicy | Mapping[str, Any] | None, *, registry: Registry, enabled: bool, source: str
    ) -> TrustRuntime:
        if not isinstance(policy, TrustPolicy):
            policy = TrustPolicy.model_validate(policy or {})
        return cls(policy, enabled=enabled)

    def middleware_for(self, alias: str, model: Model, *, override: Mapping[str, Any] | None = None) -> _PassThrough:
        return _PassThrough()

    def close(self) -> None:
        return None
