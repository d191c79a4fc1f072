"""The trust runtime: one per Client; a middleware per model; an interceptor per call.

Per call, fail closed and in this order: gate (boundary vs policy) → mask (vault) →
score the input → provider call (the retries happen inside this interceptor, so one
record covers every attempt) → restore placeholders → score the output → audit record
and span. A refusal at any step raises :class:`~byom_sdk.PolicyViolation` before any
byte leaves, and is audited like every other outcome.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from .._errors import AuditError, ByomError, ConfigError, PluginError, PolicyViolation
from .._middleware import CallContext, Interceptor
from .._types import (
    Boundary,
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    RequestMetadata,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    Usage,
    UsageEvent,
)
from ._audit import AuditSink, SqliteAuditSink, SqliteSinkConfig, canonical_json, key_from_env
from ._detectors import BuiltinDetector, Detector
from ._gate import Decision, check_boundary
from ._masking import (
    Masker,
    StreamDemasker,
    _Refused,
    count_unrestored,
    demask_text,
    demask_tool_call,
    refused_violation,
)
from ._policy import TrustPolicy, merge_policy, validate_policy
from ._scoring import Scorer
from ._telemetry import SpanHandle, start_span
from ._vault import Vault, VaultStore

if TYPE_CHECKING:
    from .._model import Model
    from .._plugins import Registry

__all__ = ["TrustMiddleware", "TrustRuntime"]

log = logging.getLogger("byom_sdk.trust")

RECORD_VERSION = 1


_SIMPLE_KEYS = frozenset({"prompt", "text"})


def _violation(alias: str, decision: Decision) -> PolicyViolation:
    return PolicyViolation(
        f"model '{alias}' refused by rule '{decision.rule}': {decision.detail}", rule=decision.rule, model=alias
    )


def _request_text(request: GenerateRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    parts = []
    for message in request.messages or ():
        parts.append(message.content)
        parts.extend(call.arguments for call in message.tool_calls)
    return "\n".join(parts)


def _request_payload(request: GenerateRequest) -> dict[str, Any]:
    if request.prompt is not None:
        return {"prompt": request.prompt}
    return {"messages": [m.model_dump(mode="json", exclude_defaults=True) for m in request.messages or ()]}


@functools.lru_cache(maxsize=64)
def _boundary_record(boundary: Boundary) -> dict[str, Any]:
    """The boundary as the audit record stores it (boundaries are immutable and few, so the
    dict is built once per boundary, not per call)."""
    return {
        "location_kind": boundary.location_kind,
        "network_path": boundary.network_path,
        "endpoint": boundary.endpoint,
        "tls": boundary.tls,
        "retention": boundary.retention,
        "attestations": [a.model_dump(mode="json") for a in boundary.attestations],
    }


class TrustRuntime:
    """Shared trust state of one Client: policy, detectors, vaults, audit sink, key.

    Build it with :meth:`create`; the Client asks it for one middleware per model.
    """

    def __init__(
        self,
        policy: TrustPolicy,
        *,
        registry: Registry,
        enabled: bool,
        source: str,
        base_dir: Path,
        sink: AuditSink | None = None,
    ) -> None:
        self.policy = policy
        self.enabled = enabled
        self.source = source
        self.registry = registry
        self.base_dir = base_dir
        self.vaults = VaultStore(ttl=policy.vault.ttl, max_conversations=policy.vault.max_conversations)
        configured = key_from_env(policy.audit.hmac_key_env)
        self.key_id = (
            f"env:{policy.audit.hmac_key_env}:" + hashlib.sha256(b"byom-key-id" + configured).hexdigest()[:12]
            if configured
            else "ephemeral:" + secrets.token_hex(6)
        )
        self._content_key = configured or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._detectors: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], Detector] = {}
        self._scorers: dict[str, Scorer] = {}
        self._sink = sink
        self._closed = False

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        policy: TrustPolicy | Mapping[str, Any] | None,
        *,
        registry: Registry,
        enabled: bool,
        source: str,
        sink: AuditSink | None = None,
    ) -> TrustRuntime:
        """Validate the ``[trust]`` table and build the runtime.

        :param source: the byom.toml path (relative audit paths resolve against its
            folder) or a label for inline configuration (they resolve against the
            working directory).
        :param sink: use this sink instead of the configured one (tests, embedding).
        """
        validated = validate_policy(policy, source=source)
        source_path = Path(source)
        base_dir = source_path.resolve().parent if source_path.is_file() else Path.cwd()
        runtime = cls(validated, registry=registry, enabled=enabled, source=source, base_dir=base_dir, sink=sink)
        runtime._check_names(validated, alias=None)
        if sink is None:
            registry.load()
            if validated.audit.sink not in registry.audit_sinks:
                known = ", ".join(sorted(registry.audit_sinks)) or "none"
                raise ConfigError(
                    f"no audit sink named '{validated.audit.sink}' (known: {known})",
                    source=source,
                    field="trust.audit.sink",
                )
        return runtime

    def _check_names(self, policy: TrustPolicy, *, alias: str | None) -> None:
        self.registry.load()
        for field, names, kind in (
            ("trust.masking.detectors", policy.masking.detectors, "pii"),
            ("trust.scoring.scorers", policy.scoring.scorers, "score"),
        ):
            for name in names:
                spec = self.registry.detectors.get(name)
                if spec is None or kind not in spec.kinds:
                    known = sorted(n for n, s in self.registry.detectors.items() if kind in s.kinds)
                    raise ConfigError(
                        f"no {kind} detector named '{name}' (known: {', '.join(known) or 'none'})",
                        source=self.source,
                        alias=alias,
                        field=field,
                    )

    def detector(self, name: str, context_words: Mapping[str, Sequence[str]] | None = None) -> Detector:
        """The PII detector ``name`` (built once per Client and context-word set)."""
        words = tuple(sorted((k, tuple(v)) for k, v in (context_words or {}).items()))
        key = (name, words if name == "builtin" else ())
        with self._lock:
            found = self._detectors.get(key)
            if found is None:
                found = BuiltinDetector(context_words=dict(words)) if name == "builtin" and words else self._build(name)
                self._detectors[key] = found
            return found

    def scorer(self, name: str) -> Scorer:
        with self._lock:
            found = self._scorers.get(name)
            if found is None:
                found = self._build(name)
                self._scorers[name] = found
            return found

    def _build(self, name: str) -> Any:
        spec = self.registry.detectors[name]
        try:
            return spec.factory()
        except ByomError:
            raise
        except Exception as exc:
            raise PluginError(f"detector '{name}' failed to build: {type(exc).__name__}: {exc}", plugin=name) from exc

    @property
    def sink(self) -> AuditSink:
        """The audit sink, opened on first use."""
        with self._lock:
            if self._closed:
                raise AuditError("the trust runtime is closed (its Client was closed)")
            if self._sink is None:
                self._sink = self._open_sink()
            return self._sink

    def _open_sink(self) -> AuditSink:
        audit = self.policy.audit
        spec = self.registry.audit_sink(audit.sink)
        path = Path(audit.path).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        options: dict[str, Any] = dict(audit.config)
        if spec.factory is SqliteAuditSink.from_config or spec.config_schema is SqliteSinkConfig:
            options = {"path": path, "hmac_key_env": audit.hmac_key_env, **options}
        try:
            config = spec.config_schema.model_validate(options)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = "trust.audit.config." + ".".join(str(p) for p in first["loc"])
            raise ConfigError(first["msg"], source=self.source, field=field) from None
        try:
            sink: AuditSink = spec.factory(config)
        except ByomError:
            raise
        except Exception as exc:
            raise PluginError(
                f"audit sink '{audit.sink}' failed to open: {type(exc).__name__}: {exc}", plugin=audit.sink
            ) from exc
        return sink

    def content_hmac(self, value: Any) -> str:
        """Keyed hash of content (so records can be matched without storing it)."""
        if isinstance(value, str):
            data = value
        elif isinstance(value, dict) and set(value) <= _SIMPLE_KEYS and all(isinstance(v, str) for v in value.values()):
            # The common plain-prompt / plain-text shape: no JSON encoder on the hot path.
            data = "\x1f".join(f"{k}\x1e{value[k]}" for k in sorted(value))
        else:
            data = canonical_json(value)
        return hmac.new(self._content_key, data.encode(), hashlib.sha256).hexdigest()

    def middleware_for(self, alias: str, model: Model, *, override: Mapping[str, Any] | None = None) -> TrustMiddleware:
        """The trust middleware for one model (``override``: its ``trust = {...}`` table)."""
        policy = merge_policy(self.policy, override, source=self.source, alias=alias)
        if override:
            self._check_names(policy, alias=alias)
        return TrustMiddleware(self, alias, model, policy)

    def close(self) -> None:
        """Close the audit sink and drop every vault (placeholders can no longer be
        restored)."""
        with self._lock:
            self._closed = True
            sink, self._sink = self._sink, None
        self.vaults.clear()
        if sink is not None:
            sink.close()


class TrustMiddleware:
    """The trust pipeline of one model; opens a :class:`_TrustCall` per call."""

    def __init__(self, runtime: TrustRuntime, alias: str, model: Model, policy: TrustPolicy) -> None:
        self.runtime = runtime
        self.alias = alias
        self.model = model
        self.policy = policy
        self.policy_hash = hashlib.sha256(canonical_json(policy.model_dump(mode="json")).encode()).hexdigest()[:16]
        masking = policy.masking
        self.masker = Masker(
            [runtime.detector(name, masking.context_words) for name in masking.detectors],
            entities=masking.entities,
            thresholds=masking.thresholds,
            default_threshold=masking.default_threshold,
            mode=masking.mode,
        )
        self.scorers = [runtime.scorer(name) for name in policy.scoring.scorers] if policy.scoring.enabled else []
        self.blocks_output = any(rule.action == "block" for rule in policy.scoring.output.values())

    def open(self, call: CallContext) -> Interceptor:
        return _TrustCall(self, call)


class _TrustCall(Interceptor):
    """Per-call state: decisions, vault, stream de-masker, counts, the audit record."""

    def __init__(self, middleware: TrustMiddleware, call: CallContext) -> None:
        self.mw = middleware
        self.call = call
        self.runtime = middleware.runtime
        self.policy = middleware.policy
        self.enabled = middleware.runtime.enabled
        self.info = middleware.model.info  # read per call: plugins may verify boundaries later
        self.boundary: Boundary = self.info.boundary
        self.metadata = RequestMetadata()
        self.decisions: list[Decision] = []
        self.counts: Counter[str] = Counter()
        self.scores: dict[str, dict[str, float]] = {}
        self.vault: Vault | None = None
        self.demasker: StreamDemasker | None = None
        self.restored = 0
        self.unrestored = 0
        self.usage: Usage | None = None
        self.finish_reasons: list[str] = []
        self.outcome = "ok"
        self.error_type: str | None = None
        self.rule: str | None = None
        self.prompt_hmac: str | None = None
        self.response_hmac: str | None = None
        self.trust_ms = 0.0
        self.content: dict[str, Any] = {}
        self._masked_payload: dict[str, Any] | None = None
        self._out_masked: list[str] = []
        self._out_restored: list[str] = []
        self._buffered: list[StreamEvent] | None = None
        self._finished = False
        self.span: SpanHandle = start_span(
            middleware.alias, call.operation, self.info, enabled=self.policy.telemetry.enabled
        )
        self._error: BaseException | None = None

    # -- request side ---------------------------------------------------------------------

    def _gate(self) -> None:
        if not self.enabled:
            self.decisions.append(Decision("trust", "off", "trust='off': no gate, masking or scoring"))
            return
        decisions = check_boundary(self.boundary, self.policy)
        self.decisions.extend(decisions)
        for decision in decisions:
            if decision.result == "violation":
                raise _violation(self.mw.alias, decision)

    def _score(self, side: str, text: str) -> None:
        rules = self.policy.scoring.input if side == "input" else self.policy.scoring.output
        if not self.mw.scorers or not rules or not text:
            return
        scores: dict[str, float] = {}
        for scorer in self.mw.scorers:
            try:
                found = scorer.score(text)
            except Exception as exc:
                raise PluginError(
                    f"scorer '{scorer.name}' failed on the {side}: {type(exc).__name__}: {exc}", plugin=scorer.name
                ) from exc
            for category, value in found.items():
                scores[category] = max(float(value), scores.get(category, 0.0))
        self.scores[side] = scores
        blocked: Decision | None = None
        for category, rule in sorted(rules.items()):
            if category not in scores or scores[category] < rule.threshold:
                continue
            value = scores[category]
            decision = Decision(
                f"scoring.{category}",
                "block" if rule.action == "block" else "warn",
                f"{side} {category} score {value:.2f} >= {rule.threshold}",
            )
            self.decisions.append(decision)
            if rule.action == "block" and blocked is None:
                blocked = decision
        if blocked is not None:
            raise PolicyViolation(
                f"model '{self.mw.alias}': {blocked.detail} (rule '{blocked.rule}')",
                rule=blocked.rule,
                model=self.mw.alias,
            )

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        started = time.perf_counter()
        self.metadata = request.metadata
        if self.span.active:
            self.span.set_many(
                {
                    "gen_ai.request.max_tokens": request.max_tokens,
                    "gen_ai.request.temperature": request.temperature,
                    "gen_ai.request.top_p": request.top_p,
                    "gen_ai.conversation.id": request.metadata.conversation_id,
                }
            )
        try:
            self._gate()
            masked = request
            if self.enabled and self.policy.masking.enabled:
                masking = self.policy.masking
                if masking.mode == "placeholder":
                    self.vault = self.runtime.vaults.get(request.metadata.tenant, request.metadata.conversation_id)
                try:
                    masked = self.mw.masker.mask_request(request, self.vault, self.counts)
                except _Refused as refused:
                    raise refused_violation(refused, self.mw.alias) from None
                if self.vault is not None and self.call.operation == "stream":
                    self.demasker = StreamDemasker(self.vault)
                found = sum(self.counts.values())
                self.decisions.append(Decision("masking", "pass", f"{found} value(s), mode {masking.mode}"))
            if self.enabled:
                self._score("input", _request_text(request))
            payload = _request_payload(masked)
            self._masked_payload = payload
            self.prompt_hmac = self.runtime.content_hmac(payload)
            mode = self.policy.audit.content_mode
            if mode != "none":
                self.content["prompt"] = _request_payload(request) if mode == "raw" else payload
            if self.policy.telemetry.capture_content:
                self.span.set_messages("gen_ai.input.messages", payload.get("messages") or [payload])
            if (
                self.call.operation == "stream"
                and self.enabled
                and self.mw.blocks_output
                and (self.policy.scoring.stream == "buffer")
            ):
                self._buffered = []
            return masked
        finally:
            self.trust_ms += (time.perf_counter() - started) * 1000.0

    def on_embed_request(self, request: EmbedRequest) -> EmbedRequest:
        started = time.perf_counter()
        self.metadata = request.metadata
        try:
            self._gate()
            masked = request
            if self.enabled and self.policy.masking.enabled:
                # Vectors of placeholder text would differ per conversation key; type tags
                # keep embeddings deterministic and there is nothing to restore.
                mode: Literal["refuse", "redact"] = "refuse" if self.policy.masking.mode == "refuse" else "redact"
                try:
                    texts = tuple(self.mw.masker.mask_text(t, None, self.counts, mode=mode) for t in request.texts)
                except _Refused as refused:
                    raise refused_violation(refused, self.mw.alias) from None
                if texts != request.texts:
                    masked = request.model_copy(update={"texts": texts})
                self.decisions.append(Decision("masking", "pass", f"{sum(self.counts.values())} value(s), mode {mode}"))
            self.prompt_hmac = self.runtime.content_hmac(list(masked.texts))
            if self.policy.audit.content_mode != "none":
                raw = self.policy.audit.content_mode == "raw"
                self.content["prompt"] = list(request.texts if raw else masked.texts)
            return masked
        finally:
            self.trust_ms += (time.perf_counter() - started) * 1000.0

    # -- response side --------------------------------------------------------------------

    def on_response(self, response: GenerateResponse) -> GenerateResponse:
        started = time.perf_counter()
        try:
            masked_text = response.text
            text = masked_text
            calls = response.tool_calls
            if self.vault is not None:
                text, n = demask_text(masked_text, self.vault)
                self.restored += n
                restored_calls = []
                for call in calls:
                    restored_call, m = demask_tool_call(call, self.vault)
                    self.restored += m
                    restored_calls.append(restored_call)
                calls = tuple(restored_calls)
            self.unrestored += count_unrestored(text) + sum(count_unrestored(c.arguments) for c in calls)
            self.usage = response.usage
            self.finish_reasons = [response.finish_reason]
            self.response_hmac = self.runtime.content_hmac(
                {"text": masked_text, "tool_calls": [c.model_dump(mode="json") for c in response.tool_calls]}
                if response.tool_calls
                else {"text": masked_text}
            )
            self._capture_output(masked_text, text)
            if self.enabled:
                self._score("output", text)
            if text is masked_text and calls is response.tool_calls:
                return response
            return response.model_copy(update={"text": text, "tool_calls": calls})
        finally:
            self.trust_ms += (time.perf_counter() - started) * 1000.0

    def on_embed_response(self, response: EmbedResponse) -> EmbedResponse:
        self.usage = response.usage
        return response

    def _capture_output(self, masked: str, restored: str) -> None:
        mode = self.policy.audit.content_mode
        if mode != "none":
            self.content["response"] = restored if mode == "raw" else masked
        if self.policy.telemetry.capture_content:
            self.span.set_messages("gen_ai.output.messages", [{"role": "assistant", "content": masked}])

    def _flush(self, out: list[StreamEvent]) -> None:
        if self.demasker is not None:
            held = self.demasker.flush()
            if held:
                self._out_restored.append(held)
                out.append(TextDelta(text=held))

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        started = time.perf_counter()
        try:
            out: list[StreamEvent] = []
            if isinstance(event, TextDelta):
                self._out_masked.append(event.text)
                text = self.demasker.feed(event.text) if self.demasker is not None else event.text
                if text:
                    self._out_restored.append(text)
                    out.append(event if text == event.text else TextDelta(text=text))
            elif isinstance(event, ToolCallEvent):
                self._flush(out)
                self._out_masked.append(event.tool_call.arguments)
                call = event.tool_call
                if self.vault is not None:
                    call, n = demask_tool_call(call, self.vault)
                    self.restored += n
                self.unrestored += count_unrestored(call.arguments)
                out.append(event if call is event.tool_call else ToolCallEvent(tool_call=call))
            elif isinstance(event, UsageEvent):
                self._flush(out)
                self.usage = event.usage
                out.append(event)
            elif isinstance(event, FinishEvent):
                self._flush(out)
                self._finish_stream(event)
                out.append(event)
            else:  # pragma: no cover - the union is closed
                out.append(event)
            if self._buffered is not None:
                self._buffered.extend(out)
                if not isinstance(event, FinishEvent):
                    return ()
                out, self._buffered = self._buffered, None
            return out
        finally:
            self.trust_ms += (time.perf_counter() - started) * 1000.0

    def _finish_stream(self, event: FinishEvent) -> None:
        self._finished = True
        if event.usage is not None:
            self.usage = event.usage
        self.finish_reasons = [event.finish_reason]
        masked = "".join(self._out_masked)
        restored = "".join(self._out_restored)
        if self.demasker is not None:
            self.restored += self.demasker.restored
        self.unrestored += count_unrestored(restored)
        self.response_hmac = self.runtime.content_hmac({"text": masked})
        self._capture_output(masked, restored)
        if self.enabled:
            self._score("output", restored)

    # -- end ------------------------------------------------------------------------------

    def on_error(self, error: BaseException) -> None:
        if isinstance(error, PolicyViolation):
            self.outcome = "blocked"
            self.rule = error.rule
        else:
            self.outcome = "error"
        self.error_type = type(error).__name__
        self._error = error

    def on_end(self) -> None:
        error = self._error
        if self.call.operation == "stream" and not self._finished and self.outcome == "ok":
            self.outcome, self.error_type = "error", "Cancelled"  # the caller stopped reading
        record = self._record()
        entry = None
        try:
            entry = self.runtime.sink.append(record)
        except Exception as exc:
            self.span.end(error or exc)
            if self.policy.audit.on_failure == "raise" and error is None:
                raise AuditError(f"model '{self.mw.alias}': the audit record could not be written: {exc}") from exc
            log.error("audit record for model %r could not be written: %s", self.mw.alias, exc)
            return
        usage = self.usage
        if not self.span.active:
            return
        self.span.set_many(
            {
                "gen_ai.usage.input_tokens": usage.input_tokens if usage else None,
                "gen_ai.usage.output_tokens": usage.output_tokens if usage else None,
                "gen_ai.response.finish_reasons": tuple(self.finish_reasons) if self.finish_reasons else None,
                "byom.trust.enabled": self.enabled,
                "byom.trust.outcome": self.outcome,
                "byom.trust.rule": self.rule,
                "byom.trust.entities": sum(self.counts.values()),
                "byom.trust.attempts": self.call.attempts,
                "byom.audit.seq": entry.seq if entry else None,
            }
        )
        self.span.end(error)

    def _record(self) -> dict[str, Any]:
        boundary = self.boundary
        meta = self.metadata
        usage = self.usage
        record: dict[str, Any] = {
            "v": RECORD_VERSION,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "request_id": meta.request_id or self.call.request_id,
            "tenant": meta.tenant,
            "user": meta.user,
            "conversation_id": meta.conversation_id,
            "tags": dict(meta.tags),
            "model": self.mw.alias,
            "model_id": self.info.id,
            "provider": self.info.provider,
            "operation": self.call.operation,
            "region": boundary.region,
            "boundary": _boundary_record(boundary),
            "trust": "on" if self.enabled else "off",
            "policy_hash": self.mw.policy_hash,
            "decisions": [d.as_dict() for d in self.decisions],
            "masking_mode": self.policy.masking.mode if self.policy.masking.enabled else "off",
            "entities": dict(sorted(self.counts.items())),
            "placeholders": {"restored": self.restored, "unrestored": self.unrestored},
            "scores": self.scores,
            "usage": (
                {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens, "source": usage.source}
                if usage
                else None
            ),
            "finish_reasons": self.finish_reasons,
            "latency_ms": round(self.call.elapsed_ms, 3),
            "trust_ms": round(self.trust_ms, 3),
            "attempts": self.call.attempts,
            "outcome": self.outcome,
            "error_type": self.error_type,
            "rule": self.rule,
            "hmac_key_id": self.runtime.key_id,
            "prompt_hmac": self.prompt_hmac,
            "response_hmac": self.response_hmac,
        }
        if self.content:
            record["content"] = self.content
        return record
