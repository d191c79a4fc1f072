"""The masking step (innermost trust step): placeholders out, original values back in.

On the way out it replaces what the detectors find with per-conversation placeholders (or
redacts, or refuses, per the policy) and computes the keyed hash of exactly what leaves.
On the way back it restores placeholders in answers, tool-call arguments and stream
deltas (holding back only a possible placeholder prefix), and in errors: a provider's
error message or ``details`` (a broken stream's ``partial_text``) reaches the application
restored, like an answer would, while the audit keeps only the masked text's hash.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from .._errors import ByomError, ProviderError
from .._middleware import CallContext, Interceptor
from .._types import (
    EmbedRequest,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    UsageEvent,
)
from ._gate import Decision
from ._masking import (
    Masker,
    StreamDemasker,
    _Refused,
    count_unrestored,
    demask_answer,
    demask_text,
    demask_tool_call,
    drop_cut_placeholder,
    refused_violation,
)
from ._record import TrustCall, TrustSettings
from ._vault import Vault

__all__ = ["MaskStep", "request_payload"]


def request_payload(request: GenerateRequest) -> dict[str, Any]:
    """What the request sends, as the audit hashes (and optionally stores) it."""
    if request.prompt is not None:
        return {"prompt": request.prompt}
    return {"messages": [m.model_dump(mode="json", exclude_defaults=True) for m in request.messages or ()]}


class MaskStep:
    """Masks each call of one model with the Client's detectors and vaults."""

    def __init__(self, settings: TrustSettings, masker: Masker) -> None:
        self.settings = settings
        self.masker = masker

    def open(self, call: CallContext) -> Interceptor | None:
        if not self.settings.enabled:
            return None
        return _MaskCall(self, self.settings.state(call))


class _MaskCall(Interceptor):
    any_thread = True

    def __init__(self, step: MaskStep, trust: TrustCall) -> None:
        self.step = step
        self.trust = trust
        settings = trust.settings
        self.masking = settings.enabled and settings.policy.masking.enabled
        self.content_mode = settings.policy.audit.content_mode
        self.span_content = settings.policy.telemetry.capture_content
        self.vault: Vault | None = None
        self.demasker: StreamDemasker | None = None
        self.masked_out: list[str] = []
        self.restored_out: list[str] = []
        #: usage reported while a placeholder's start was held: held with it, because only
        #: the event after it says whether the answer was cut there (see _flush).
        self.usage_held: list[StreamEvent] = []

    # -- out ----------------------------------------------------------------------------

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        trust = self.trust
        started = time.perf_counter()
        try:
            masked = request
            if self.masking:
                policy = trust.settings.policy.masking
                if policy.mode == "placeholder":
                    meta = request.metadata
                    self.vault = trust.settings.runtime.vaults.get(meta.tenant, meta.conversation_id)
                elif policy.mode == "pseudonym":
                    self.vault = trust.settings.runtime.pseudonymizer(policy).vault(request.metadata.tenant)
                try:
                    masked = self.step.masker.mask_request(request, self.vault, trust.counts)
                except _Refused as refused:
                    raise refused_violation(refused, trust.settings.alias) from None
                if self.vault is not None and trust.call.operation == "stream":
                    self.demasker = StreamDemasker(self.vault)
                found = sum(trust.counts.values())
                trust.decisions.append(Decision("masking", "pass", f"{found} value(s), mode {policy.mode}"))
            payload = request_payload(masked)
            trust.prompt_hmac = trust.settings.runtime.content_hmac(payload)
            if self.content_mode != "none":
                trust.content["prompt"] = request_payload(request) if self.content_mode == "raw" else payload
            if self.span_content:
                trust.span_content["gen_ai.input.messages"] = payload.get("messages") or [payload]
            return masked
        finally:
            trust.trust_ms += (time.perf_counter() - started) * 1000.0

    def on_embed_request(self, request: EmbedRequest) -> EmbedRequest:
        trust = self.trust
        started = time.perf_counter()
        try:
            masked = request
            if self.masking:
                # Vectors of placeholder text would differ per conversation key; type tags
                # keep embeddings deterministic and there is nothing to restore.
                policy = trust.settings.policy.masking
                mode: Literal["refuse", "redact"] = "refuse" if policy.mode == "refuse" else "redact"
                masker = self.step.masker
                try:
                    texts = tuple(masker.mask_text(t, None, trust.counts, mode=mode) for t in request.texts)
                except _Refused as refused:
                    raise refused_violation(refused, trust.settings.alias) from None
                if texts != request.texts:
                    masked = request.model_copy(update={"texts": texts})
                trust.decisions.append(
                    Decision("masking", "pass", f"{sum(trust.counts.values())} value(s), mode {mode}")
                )
            trust.prompt_hmac = trust.settings.runtime.content_hmac(list(masked.texts))
            if self.content_mode != "none":
                trust.content["prompt"] = list(request.texts if self.content_mode == "raw" else masked.texts)
            return masked
        finally:
            trust.trust_ms += (time.perf_counter() - started) * 1000.0

    # -- back ---------------------------------------------------------------------------

    def _capture(self, masked: str, restored: str) -> None:
        trust = self.trust
        if self.content_mode != "none":
            trust.content["response"] = restored if self.content_mode == "raw" else masked
        if self.span_content:
            trust.span_content["gen_ai.output.messages"] = [{"role": "assistant", "content": masked}]

    def on_response(self, response: GenerateResponse) -> GenerateResponse:
        trust = self.trust
        started = time.perf_counter()
        try:
            masked_text = response.text
            text = masked_text
            calls = response.tool_calls
            if self.vault is not None:
                text, restored = demask_answer(masked_text, self.vault)
                trust.restored += restored
                if response.finish_reason == "length":
                    text, dropped = drop_cut_placeholder(text, self.vault)
                    trust.unrestored += dropped
                restored_calls = []
                for call in calls:
                    restored_call, count = demask_tool_call(call, self.vault)
                    trust.restored += count
                    restored_calls.append(restored_call)
                calls = tuple(restored_calls)
            trust.unrestored += count_unrestored(text) + sum(count_unrestored(c.arguments) for c in calls)
            runtime = trust.settings.runtime
            trust.response_hmac = runtime.content_hmac(
                {"text": masked_text, "tool_calls": [c.model_dump(mode="json") for c in response.tool_calls]}
                if response.tool_calls
                else {"text": masked_text}
            )
            self._capture(masked_text, text)
            if text is masked_text and calls is response.tool_calls:
                return response
            return response.model_copy(update={"text": text, "tool_calls": calls})
        finally:
            trust.trust_ms += (time.perf_counter() - started) * 1000.0

    def _flush(self, out: list[StreamEvent], *, truncated: bool = False) -> None:
        if self.demasker is not None:
            held = self.demasker.flush(truncated=truncated)
            if held:
                self.restored_out.append(held)
                out.append(TextDelta(text=held))

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        trust = self.trust
        started = time.perf_counter()
        try:
            if isinstance(event, TextDelta):
                self.masked_out.append(event.text)
                text = self.demasker.feed(event.text) if self.demasker is not None else event.text
                if not text:
                    return ()
                self.restored_out.append(text)
                delta = event if text == event.text else TextDelta(text=text)
                if self.usage_held:
                    held, self.usage_held = self.usage_held, []
                    return (delta, *held)
                return (delta,)
            if isinstance(event, UsageEvent) and self.demasker is not None and self.demasker.holding:
                self.usage_held.append(event)
                return ()
            out: list[StreamEvent] = []
            self._flush(out, truncated=isinstance(event, FinishEvent) and event.finish_reason == "length")
            if self.usage_held:
                out.extend(self.usage_held)
                self.usage_held = []
            if isinstance(event, ToolCallEvent):
                self.masked_out.append(event.tool_call.arguments)
                call = event.tool_call
                if self.vault is not None:
                    call, count = demask_tool_call(call, self.vault)
                    trust.restored += count
                trust.unrestored += count_unrestored(call.arguments)
                out.append(event if call is event.tool_call else ToolCallEvent(tool_call=call))
            elif isinstance(event, FinishEvent):
                self._finish()
                out.append(event)
            else:
                out.append(event)
            return out
        finally:
            trust.trust_ms += (time.perf_counter() - started) * 1000.0

    def _finish(self) -> None:
        trust = self.trust
        masked = "".join(self.masked_out)
        restored = "".join(self.restored_out)
        if self.demasker is not None:
            trust.restored += self.demasker.restored
            trust.unrestored += self.demasker.cut
        trust.unrestored += count_unrestored(restored)
        trust.response_hmac = trust.settings.runtime.content_hmac({"text": masked})
        self._capture(masked, restored)

    # -- errors -------------------------------------------------------------------------

    def on_error(self, error: BaseException) -> None:
        vault = self.vault
        if vault is None or not isinstance(error, ByomError):
            return
        message, restored = demask_text(error.message, vault)
        if restored:
            error.masked_message = error.message  # what logs may show (see ByomError)
            error.message = message
            error.args = (message, *error.args[1:])
        if isinstance(error, ProviderError) and error.details:
            error.details = _demask_value(error.details, vault)


def _demask_value(value: Any, vault: Vault) -> Any:
    if isinstance(value, str):
        return demask_text(value, vault)[0]
    if isinstance(value, dict):
        return {k: _demask_value(v, vault) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_demask_value(v, vault) for v in value)
    return value
