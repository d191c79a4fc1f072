"""The per-call trust record: what the trust steps of one call found, and the audit records
built from it.

Each trust step (telemetry, audit, gate, scoring, masking) is its own middleware; they
cooperate through one :class:`TrustCall`, kept in the call's ``state``. A call that sends
a request leaves two audit records: an *intent*, committed before the request leaves (a
crash between sending and answering still leaves evidence), and an *outcome* naming the
intent. A call refused or cancelled before sending leaves a single outcome with
``sent: false``. Every call leaves exactly one outcome.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .._errors import PolicyViolation, ProviderError
from .._middleware import CallContext
from .._types import Boundary, RequestMetadata, Usage
from ._audit import canonical_json

if TYPE_CHECKING:
    from ._gate import Decision
    from ._policy import TrustPolicy
    from ._runtime import TrustRuntime

__all__ = ["RECORD_VERSION", "TrustCall", "TrustSettings", "calls_of", "outcome_of"]

#: version 2: intent and outcome records per call.
RECORD_VERSION = 2

_STATE_KEY = "byom_sdk.trust"
#: where a routed call keeps which route chose this target and why (byom_sdk.routing).
ROUTE_KEY = "byom_sdk.route"


#: id(boundary) -> (boundary, its record). Keyed by identity: boundaries are immutable and
#: few, and an lru_cache would compare equal-but-distinct boundaries (two variants of one
#: endpoint) with pydantic's slow __eq__ on every call.
_BOUNDARY_RECORDS: dict[int, tuple[Boundary, dict[str, Any]]] = {}


def boundary_record(boundary: Boundary) -> dict[str, Any]:
    """The boundary as records store it (built once per boundary object)."""
    cached = _BOUNDARY_RECORDS.get(id(boundary))
    if cached is not None and cached[0] is boundary:
        return cached[1]
    record = {
        k: v
        for k, v in boundary.model_dump(mode="json", exclude={"provider", "region"}).items()
        if v is not None and v != []
    }
    if len(_BOUNDARY_RECORDS) >= 256:
        _BOUNDARY_RECORDS.clear()
    _BOUNDARY_RECORDS[id(boundary)] = (boundary, record)  # holding it keeps its id unique
    return record


class TrustSettings:
    """What one model's trust steps share: the runtime, the model's policy, its alias."""

    def __init__(self, runtime: TrustRuntime, alias: str, policy: TrustPolicy) -> None:
        self.runtime = runtime
        self.alias = alias
        self.policy = policy
        self.enabled = runtime.enabled
        self.policy_hash = hashlib.sha256(canonical_json(policy.model_dump(mode="json")).encode()).hexdigest()[:16]

    def state(self, call: CallContext) -> TrustCall:
        """The call's shared trust record (created by the first trust step to ask)."""
        found = call.state.get(_STATE_KEY)
        if found is None:
            found = call.state[_STATE_KEY] = TrustCall(self, call)
        trust: TrustCall = found
        return trust


def calls_of(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One view per call, in log order: each outcome merged over its intent (linked by
    ``call_id``, decisions concatenated); an intent without an outcome yet (in flight, or
    its writer crashed) appears as itself with ``outcome: None``; other records are skipped."""
    intents: dict[str, dict[str, Any]] = {}
    calls: list[dict[str, Any]] = []
    for record in records:
        kind = record.get("kind")
        if kind == "intent":
            intents[str(record.get("call_id"))] = dict(record)
        elif kind == "outcome":
            intent = intents.pop(str(record.get("call_id")), {})
            merged = {**intent, **record}
            merged["decisions"] = [*intent.get("decisions", ()), *record.get("decisions", ())]
            if "content" in intent or "content" in record:
                merged["content"] = {**intent.get("content", {}), **record.get("content", {})}
            calls.append(merged)
    calls.extend({**intent, "outcome": None} for intent in intents.values())
    return calls


def outcome_of(error: BaseException) -> tuple[str, str | None]:
    """The audit outcome of a failure and, for a refusal, the rule that refused."""
    if isinstance(error, PolicyViolation):
        return "blocked", error.rule
    name = type(error).__name__
    if name in ("StreamCancelled", "CancelledError", "GeneratorExit", "KeyboardInterrupt") or isinstance(
        error, asyncio.CancelledError
    ):
        return "cancelled", None
    return "error", None


class TrustCall:
    """Everything the trust steps learned about one call."""

    def __init__(self, settings: TrustSettings, call: CallContext) -> None:
        self.settings = settings
        self.call = call
        self.boundary: Boundary = call.info.boundary
        self.metadata = RequestMetadata()
        self.decisions: list[Decision] = []
        self.counts: Counter[str] = Counter()
        self.scores: dict[str, dict[str, float]] = {}
        self.restored = 0
        self.unrestored = 0
        self.usage: Usage | None = None
        self.finish_reasons: list[str] = []
        self.tool_calls = 0
        self.outcome = "ok"
        self.error_type: str | None = None
        self.error_code: str | None = None
        self.rule: str | None = None
        self.prompt_hmac: str | None = None
        self.response_hmac: str | None = None
        #: content the audit keeps (per the policy's capture_content).
        self.content: dict[str, Any] = {}
        #: masked messages for the span (only when telemetry.capture_content).
        self.span_content: dict[str, list[dict[str, Any]]] = {}
        self.trust_ms = 0.0
        self.intent_seq: int | None = None
        self.audit_seq: int | None = None
        #: decisions already written in the intent record
        self._decided = 0

    def fail(self, error: BaseException) -> None:
        if self.outcome != "ok":
            return  # the first failure is the call's
        self.outcome, self.rule = outcome_of(error)
        self.error_type = type(error).__name__
        if isinstance(error, ProviderError):
            self.error_code = error.code

    # -- records ------------------------------------------------------------------------------

    def _common(self) -> dict[str, Any]:
        call = self.call
        info = call.info
        meta = self.metadata
        settings = self.settings
        record: dict[str, Any] = {
            "v": RECORD_VERSION,
            "call_id": call.request_id,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "request_id": meta.request_id or call.request_id,
            "tenant": meta.tenant,
            "user": meta.user,
            "conversation_id": meta.conversation_id,
            "tags": dict(meta.tags),
            "model": settings.alias,
            "model_id": info.id,
            "version": info.version,
            "provider": info.provider,
            "operation": call.operation,
            "region": self.boundary.region,
            "boundary": boundary_record(self.boundary),
            "trust": "on" if settings.enabled else "off",
            "policy_hash": settings.policy_hash,
            "hmac_key_id": settings.runtime.key_id,
        }
        route = call.state.get(ROUTE_KEY)
        if route is not None:
            record["route"] = route
        return record

    def _masking_mode(self) -> str:
        masking = self.settings.policy.masking
        return masking.mode if masking.enabled and self.settings.enabled else "off"

    def intent(self) -> dict[str, Any]:
        """The record committed before the request leaves."""
        record = self._common()
        record.update(
            {
                "kind": "intent",
                "decisions": [d.as_dict() for d in self.decisions],
                "masking_mode": self._masking_mode(),
                "entities": dict(sorted(self.counts.items())),
                "scores": dict(self.scores),
                "prompt_hmac": self.prompt_hmac,
            }
        )
        if "prompt" in self.content:
            record["content"] = {"prompt": self.content["prompt"]}
        self._decided = len(self.decisions)
        return record

    def outcome_record(self) -> dict[str, Any]:
        """The record of how the call ended: with an intent before it, what happened since
        (the intent, linked by ``call_id``, holds who, where and what was sent); without
        one — a call refused or cancelled before sending, or trust off — the whole story."""
        usage = self.usage
        if self.intent_seq is not None:
            record: dict[str, Any] = {
                "v": RECORD_VERSION,
                "call_id": self.call.request_id,
                "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "model": self.settings.alias,
                "operation": self.call.operation,
                "decisions": [d.as_dict() for d in self.decisions[self._decided :]],
            }
        else:
            record = self._common()
            record.update(
                {
                    "decisions": [d.as_dict() for d in self.decisions],
                    "masking_mode": self._masking_mode(),
                    "entities": dict(sorted(self.counts.items())),
                    "prompt_hmac": self.prompt_hmac,
                }
            )
        record.update(
            {
                "kind": "outcome",
                "sent": self.call.sent,
                "intent_seq": self.intent_seq,
                "placeholders": {"restored": self.restored, "unrestored": self.unrestored},
                "scores": dict(self.scores),
                "usage": (
                    {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens, "source": usage.source}
                    if usage
                    else None
                ),
                "finish_reasons": list(self.finish_reasons),
                "tool_calls": self.tool_calls,
                "latency_ms": round(self.call.elapsed_ms, 3),
                "trust_ms": round(self.trust_ms, 3),
                "attempts": self.call.attempts,
                "outcome": self.outcome,
                "error_type": self.error_type,
                "error_code": self.error_code,
                "rule": self.rule,
                "response_hmac": self.response_hmac,
            }
        )
        if self.content:
            response = {k: v for k, v in self.content.items() if k != "prompt" or self.intent_seq is None}
            if response:
                record["content"] = response
        return record
