"""The telemetry step (outermost): one OpenTelemetry span per call, ``gen_ai.*`` attributes.

Opens nothing when no tracer provider is installed, so a call without OpenTelemetry pays
for one check. Content never goes on a span unless the policy opts in, and then only the
masked text (the masking step hands it over through the call's trust record).
"""

from __future__ import annotations

from collections import Counter

from .._middleware import CallContext, Interceptor
from .._types import EmbedRequest, GenerateRequest
from ._masking import Masker
from ._record import TrustCall, TrustSettings
from ._telemetry import SpanHandle, start_span

__all__ = ["TelemetryStep"]


class TelemetryStep:
    """Opens a span for each call of one model."""

    def __init__(self, settings: TrustSettings, masker: Masker) -> None:
        self.settings = settings
        self._masker = masker  # the masking step's: the same detectors and thresholds
        self._ids: dict[str, str] = {}

    def conversation_id(self, value: str | None) -> str | None:
        """``value`` with what the policy's detectors find replaced by type tags
        (``ticket-[EMAIL]``). The id is metadata: it never leaves with the request, but a
        span does (to whatever collector the application exports to), so an id built from
        an e-mail or an account number must not carry it there unmasked. Ids without
        personal data, the usual case, are unchanged; trust off or masking off sends them
        as given, like the content."""
        if not value or not self.settings.enabled or not self.settings.policy.masking.enabled:
            return value
        # Unlocked: calls of one model run on many threads, and a lost race only recomputes.
        found = self._ids.get(value)
        if found is None:
            found = self._mask(value)
            if len(self._ids) >= 4096:  # ids repeat per conversation: a bounded memo is enough
                self._ids.clear()
            self._ids[value] = found
        return found

    def _mask(self, value: str) -> str:
        # "redact" whatever the policy's mode: a placeholder would need the call's vault,
        # and "refuse" must not fail a call over its telemetry.
        return self._masker.mask_text(value, None, Counter(), mode="redact")

    def open(self, call: CallContext) -> Interceptor | None:
        settings = self.settings
        if not settings.policy.telemetry.enabled:
            return None
        span = start_span(settings.alias, call.operation, call.info, enabled=True)
        if not span.active:
            return None
        return _TelemetryCall(self, settings.state(call), span)


class _TelemetryCall(Interceptor):
    any_thread = True

    def __init__(self, step: TelemetryStep, trust: TrustCall, span: SpanHandle) -> None:
        self.step = step
        self.trust = trust
        self.span = span
        self.error: BaseException | None = None

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        self.span.set_many(
            {
                "gen_ai.request.max_tokens": request.max_tokens,
                "gen_ai.request.temperature": request.temperature,
                "gen_ai.request.top_p": request.top_p,
                "gen_ai.conversation.id": self.step.conversation_id(request.metadata.conversation_id),
            }
        )
        return request

    def on_embed_request(self, request: EmbedRequest) -> EmbedRequest:
        self.span.set("gen_ai.conversation.id", self.step.conversation_id(request.metadata.conversation_id))
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
