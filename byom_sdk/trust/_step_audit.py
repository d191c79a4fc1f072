"""The audit step: an intent record before the request leaves, an outcome record after.

Second outermost (only telemetry wraps it), so its outcome sees every other step's
verdict — a refusal, a provider error, a step failing in ``on_end`` — and records the
failure the caller will see. Its writes are blocking I/O: async callers run them on the
Client's ``io`` executor. Fail closed: when the intent cannot be committed the request is
not sent (``on_failure = "block"``, the default) and the caller gets ``AuditError``
naming the store; ``"warn"`` logs and lets the call proceed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import AuditError, ByomError
from .._middleware import CallContext, Interceptor
from .._types import (
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    StreamEvent,
    ToolCallEvent,
    UsageEvent,
)
from ._record import TrustCall, TrustSettings

__all__ = ["AuditStep"]

log = logging.getLogger("byom_sdk.trust")


class AuditStep:
    """Writes each call of one model to the Client's audit sink."""

    def __init__(self, settings: TrustSettings) -> None:
        self.settings = settings

    def open(self, call: CallContext) -> Interceptor:
        if not self.settings.enabled:
            # trust='off' is for local development: one record per call, after it, and no
            # intent (nothing is masked or gated, so nothing before sending needs proving).
            return _OutcomeOnly(self.settings.state(call))
        return _AuditCall(self.settings.state(call))


class _OutcomeOnly(Interceptor):
    """Records how a call ended (trust off: this is its only record)."""

    any_thread = True

    blocking = True

    def __init__(self, trust: TrustCall) -> None:
        self.trust = trust

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        self.trust.metadata = request.metadata
        return request

    def on_embed_request(self, request: EmbedRequest) -> EmbedRequest:
        self.trust.metadata = request.metadata
        return request

    def _append(self, record: Mapping[str, Any]) -> int | None:
        settings = self.trust.settings
        runtime = settings.runtime
        try:
            return runtime.append(record).seq
        except ByomError as exc:
            error = exc if isinstance(exc, AuditError) else AuditError(f"audit sink failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - any sink failure is an audit failure.
            error = AuditError(f"audit sink failed: {type(exc).__name__}: {exc}")
        if settings.policy.audit.on_failure in ("block", "raise"):
            raise AuditError(
                f"model '{settings.alias}': {error.message}; the call was not completed "
                "(trust.audit.on_failure = 'block')",
                path=getattr(error, "path", None),
            ) from error
        log.error("model %r: %s (trust.audit.on_failure = 'warn')", settings.alias, error.message)
        return None

    def on_response(self, response: GenerateResponse) -> GenerateResponse:
        trust = self.trust
        trust.usage = response.usage
        trust.finish_reasons = [response.finish_reason]
        trust.tool_calls = len(response.tool_calls)
        return response

    def on_embed_response(self, response: EmbedResponse) -> EmbedResponse:
        self.trust.usage = response.usage
        return response

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        trust = self.trust
        if isinstance(event, UsageEvent):
            trust.usage = event.usage
        elif isinstance(event, FinishEvent):
            trust.finish_reasons = [event.finish_reason]
            if event.usage is not None:
                trust.usage = event.usage
        elif isinstance(event, ToolCallEvent):
            trust.tool_calls += 1
        return (event,)

    def on_error(self, error: BaseException) -> None:
        self.trust.fail(error)

    def on_end(self) -> None:
        trust = self.trust
        if trust.call.operation == "stream" and trust.outcome == "ok" and not trust.finish_reasons:
            trust.outcome, trust.error_type = "cancelled", "Cancelled"  # the stream ended without finishing
        trust.audit_seq = self._append(trust.outcome_record())


class _AuditCall(_OutcomeOnly):
    """Records a call's intent before its request leaves, then its outcome."""

    def on_send(self) -> None:
        trust = self.trust
        trust.intent_seq = self._append(trust.intent())
