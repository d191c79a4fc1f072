"""The gate step: the model's boundary checked against the policy before anything leaves.

Runs on the boundary the provider reports when the call starts (``info`` is live, so a
boundary verified later is the one gated). Every rule's decision goes into the trust
record; the first violation refuses the call with ``PolicyViolation`` naming the rule.
"""

from __future__ import annotations

import time

from .._errors import PolicyViolation
from .._middleware import CallContext, Interceptor
from .._types import EmbedRequest, GenerateRequest
from ._gate import Decision, check_boundary
from ._record import TrustCall, TrustSettings

__all__ = ["GateStep"]


class GateStep:
    """Refuses calls whose destination the policy does not allow."""

    def __init__(self, settings: TrustSettings) -> None:
        self.settings = settings

    def open(self, call: CallContext) -> Interceptor:
        return _GateCall(self.settings.state(call))


class _GateCall(Interceptor):
    any_thread = True

    def __init__(self, trust: TrustCall) -> None:
        self.trust = trust

    def _gate(self) -> None:
        trust = self.trust
        settings = trust.settings
        started = time.perf_counter()
        try:
            if not settings.enabled:
                trust.decisions.append(Decision("trust", "off", "trust='off': no gate, masking or scoring"))
                return
            decisions = check_boundary(trust.boundary, settings.policy)
            trust.decisions.extend(decisions)
            for decision in decisions:
                if decision.result == "violation":
                    raise PolicyViolation(
                        f"model '{settings.alias}' refused by rule '{decision.rule}': {decision.detail}",
                        rule=decision.rule,
                        model=settings.alias,
                    )
        finally:
            trust.trust_ms += (time.perf_counter() - started) * 1000.0

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        self._gate()
        return request

    def on_embed_request(self, request: EmbedRequest) -> EmbedRequest:
        self._gate()
        return request
