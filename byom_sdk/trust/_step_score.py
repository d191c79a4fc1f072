"""The scoring step: injection / toxicity scores on the input and the restored output.

Sits outside the masking step, so it scores what the user wrote and what the user will
read (placeholders restored). A ``block`` rule refuses the call with ``PolicyViolation``;
``warn`` only records the decision. For streams, ``scoring.stream = "finish"`` scores the
whole text at the end and raises instead of the finish event; ``"buffer"`` holds every
event back until the text was scored.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from .._errors import PluginError, PolicyViolation
from .._middleware import CallContext, Interceptor
from .._types import FinishEvent, GenerateRequest, GenerateResponse, StreamEvent, TextDelta
from ._gate import Decision
from ._record import TrustCall, TrustSettings
from ._scoring import Scorer

__all__ = ["ScoreStep", "request_text"]


def request_text(request: GenerateRequest) -> str:
    """All the text a request carries: the prompt, or every message and tool-call argument."""
    if request.prompt is not None:
        return request.prompt
    parts = []
    for message in request.messages or ():
        parts.append(message.content)
        parts.extend(call.arguments for call in message.tool_calls)
    return "\n".join(parts)


class ScoreStep:
    """Scores each generation of one model (embeddings are not scored)."""

    def __init__(self, settings: TrustSettings, scorers: Sequence[Scorer]) -> None:
        self.settings = settings
        self.scorers = tuple(scorers)
        scoring = settings.policy.scoring
        self.blocks_output = any(rule.action == "block" for rule in scoring.output.values())

    def open(self, call: CallContext) -> Interceptor | None:
        if not self.settings.enabled or not self.scorers or call.operation == "embed":
            return None
        return _ScoreCall(self, self.settings.state(call))


class _ScoreCall(Interceptor):
    any_thread = True

    def __init__(self, step: ScoreStep, trust: TrustCall) -> None:
        self.step = step
        self.trust = trust
        self.text: list[str] = []
        scoring = trust.settings.policy.scoring
        self.buffered: list[StreamEvent] | None = (
            [] if step.blocks_output and scoring.stream == "buffer" and trust.call.operation == "stream" else None
        )

    def _score(self, side: str, text: str) -> None:
        trust = self.trust
        policy = trust.settings.policy.scoring
        rules = policy.input if side == "input" else policy.output
        if not rules or not text:
            return
        started = time.perf_counter()
        scores: dict[str, float] = {}
        for scorer in self.step.scorers:
            try:
                found = scorer.score(text)
            except Exception as exc:
                raise PluginError(
                    f"scorer '{scorer.name}' failed on the {side}: {type(exc).__name__}: {exc}", plugin=scorer.name
                ) from exc
            for category, value in found.items():
                scores[category] = max(float(value), scores.get(category, 0.0))
        trust.scores[side] = scores
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
            trust.decisions.append(decision)
            if rule.action == "block" and blocked is None:
                blocked = decision
        trust.trust_ms += (time.perf_counter() - started) * 1000.0
        if blocked is not None:
            alias = trust.settings.alias
            raise PolicyViolation(
                f"model '{alias}': {blocked.detail} (rule '{blocked.rule}')", rule=blocked.rule, model=alias
            )

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        self._score("input", request_text(request))
        return request

    def on_response(self, response: GenerateResponse) -> GenerateResponse:
        self._score("output", response.text)
        return response

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        if isinstance(event, TextDelta):
            self.text.append(event.text)
        elif isinstance(event, FinishEvent):
            self._score("output", "".join(self.text))
        if self.buffered is None:
            return (event,)
        self.buffered.append(event)
        if not isinstance(event, FinishEvent):
            return ()
        released, self.buffered = self.buffered, None
        return released
