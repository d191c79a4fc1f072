"""The telemetry step (outermost): one OpenTelemetry span per call, ``gen_ai.*`` attributes.

Opens nothing when no tracer provider is installed, so a call without OpenTelemetry pays
for one check. Content never goes on a span unless the policy opts in, and then only the
masked text (the masking step hands it over through the call's trust record).
"""

from __future__ import annotations

from .._middleware import CallContext, Interceptor
from .._types import EmbedRequest, GenerateRequest
from ._record import TrustCall, TrustSettings
from ._telemetry import SpanHandle, start_span

__all__ = ["TelemetryStep"]


class TelemetryStep:
    """Opens a span for each call of one model."""

    def __init__(self, settings: TrustSettings) -> None:
        self.settings = settings

    def open(self, call: CallContext) -> Interceptor | None:
        settings = self.settings
        if not settings.policy.telemetry.enabled:
            return None
        span = start_span(settings.alias, call.operation, call.info, enabled=True)
        if not span.active:
            return None
        return _TelemetryCall(settings.state(call), span)


class _TelemetryCall(Interceptor):
    any_thread = True

    def __init__(self, trust: TrustCall, span: SpanHandle) -> None:
        self.trust = trust
        self.span = span
        self.error: BaseException | None = None

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        self.span.set_many(
            {
                "gen_ai.request.max_tokens": request.max_tokens,
                "gen_ai.request.temperature": request.temperature,
                "gen_ai.request.top_p": request.top_p,
                "gen_ai.conversation.id": request.metadata.conversation_id,
            }
        )
        return request

    def on_embed_request(self, request: EmbedRequest) -> EmbedRequest:
        self.span.set("gen_ai.conversation.id", request.metadata.conversation_id)
        return request

    def on_error(self, error: BaseException) -> None:
        self.error = self.error or error

    def on_end(self) -> None:
        trust = self.trust
        span = self.span
        usage = trust.usage
        for name, messages in trust.span_content.items():
            span.set_messages(name, messages)
        span.set_many(
            {
                "gen_ai.usage.input_tokens": usage.input_tokens if usage else None,
                "gen_ai.usage.output_tokens": usage.output_tokens if usage else None,
                "gen_ai.response.finish_reasons": tuple(trust.finish_reasons) if trust.finish_reasons else None,
                "byom.trust.enabled": trust.settings.enabled,
                "byom.trust.outcome": trust.outcome,
                "byom.trust.rule": trust.rule,
                "byom.trust.entities": sum(trust.counts.values()),
                "byom.trust.attempts": trust.call.attempts,
                "byom.audit.seq": trust.audit_seq,
            }
        )
        span.end(self.error)
