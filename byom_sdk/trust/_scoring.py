"""Scorers: per-category risk scores for input and output text.

A scorer (``DetectorSpec(kinds=("score",))``) has a ``name``, the ``categories`` it
scores and ``score(text) -> {category: 0..1}``. The built-ins are transparent
heuristics (weighted phrase patterns combined as ``1 - Π(1 - w)``), good at the
well-known phrasings and cheap enough for every call; model-backed scorers (an ONNX
classifier through byom-onnx, say) plug in through the same interface.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

__all__ = ["HeuristicScorer", "Scorer", "injection_scorer", "toxicity_scorer"]


@runtime_checkable
class Scorer(Protocol):
    """Scores text per category (``"injection"``, ``"toxicity"``…), each in [0, 1]."""

    name: str
    categories: tuple[str, ...]

    def score(self, text: str) -> Mapping[str, float]: ...


# (pattern, weight, trigger words): a pattern runs only when one of its trigger words
# occurs in the lower-cased text, so clean text costs a few substring searches.
_Pattern = tuple[str, float, tuple[str, ...]]

_INJECTION: Sequence[_Pattern] = (
    (r"\b(?:ignore|disregard|forget|skip|override)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|"
     r"preceding|all|any|your|the|system)\b[^.\n]{0,30}\b(?:instructions?|prompts?|rules|directives|"
     r"guidelines|context|messages?)\b", 0.8, ("ignore", "disregard", "forget", "skip", "override")),
    (r"\b(?:reveal|show|print|repeat|output|leak|tell me)\b[^.\n]{0,30}\b(?:system|hidden|initial|"
     r"original|secret)\s+(?:prompt|instructions?|message)", 0.7, ("prompt", "instruction", "message")),
    (r"\byou are now\b|\bfrom now on,? you (?:are|will)\b", 0.4, ("you are now", "from now on")),
    (r"\b(?:DAN|do anything now|developer mode|jailbr(?:eak|oken)|god mode)\b", 0.6,
     ("dan", "do anything now", "developer mode", "jailbr", "god mode")),
    (r"\b(?:pretend|act|behave)\b[^.\n]{0,20}\b(?:as if|like|as)\b[^.\n]{0,30}\b(?:no|without)\s+"
     r"(?:restrictions|rules|filters|limits|guidelines)", 0.7,
     ("restrictions", "rules", "filters", "limits", "guidelines")),
    (r"<\|(?:im_start|im_end|system|endoftext)\|>|\[/?INST\]|<</?SYS>>|^\s*#{2,}\s*(?:system|"
     r"instruction)s?\b", 0.6, ("<|", "[inst]", "[/inst]", "<<sys>>", "<</sys>>", "##")),
    (r"\bnew (?:system )?instructions?\s*:", 0.5, ("instruction",)),
    (r"\b(?:bypass|disable|turn off)\b[^.\n]{0,30}\b(?:safety|filter|guardrails?|moderation|"
     r"restrictions)\b", 0.6, ("bypass", "disable", "turn off")),
)  # fmt: skip

# Kept deliberately mild and short: a seed lexicon for the heuristic, not a slur list.
_TOXICITY: Sequence[_Pattern] = (
    (r"\b(?:fuck(?:ing|er|ed)?|f\*+k|shit(?:ty)?|bitch|bastard|asshole|dickhead|crap)\b", 0.5,
     ("fuck", "f*", "shit", "bitch", "bastard", "asshole", "dickhead", "crap")),
    (r"\b(?:idiot|moron|stupid|dumb|imbecile|loser|pathetic|worthless)\b", 0.35,
     ("idiot", "moron", "stupid", "dumb", "imbecile", "loser", "pathetic", "worthless")),
    (r"\b(?:kill|murder|hurt|shoot|stab)\s+(?:you|yourself|him|her|them)\b", 0.8,
     ("kill", "murder", "hurt", "shoot", "stab")),
    (r"\bkys\b|\bgo die\b|\bdie in a\b", 0.8, ("kys", "go die", "die in a")),
    (r"\b(?:i hate you|shut up|screw you)\b", 0.5, ("hate you", "shut up", "screw you")),
)  # fmt: skip


class HeuristicScorer:
    """Weighted-pattern scorer for one category.

    :param name: registry name.
    :param category: the category it scores.
    :param patterns: ``(regex, weight, trigger words)``; matches combine as
        ``1 - Π(1 - w)`` (at most three hits per pattern count).
    """

    def __init__(self, name: str, category: str, patterns: Sequence[_Pattern]) -> None:
        self.name = name
        self.categories = (category,)
        self._category = category
        self._patterns = tuple(
            (re.compile(p, re.IGNORECASE | re.MULTILINE), w, triggers) for p, w, triggers in patterns
        )

    def score(self, text: str) -> dict[str, float]:
        lowered = text.lower()
        keep = 1.0
        for pattern, weight, triggers in self._patterns:
            if not any(trigger in lowered for trigger in triggers):
                continue
            hits = len(pattern.findall(text))
            if hits:
                keep *= (1.0 - weight) ** min(hits, 3)
        return {self._category: round(1.0 - keep, 4)}


def injection_scorer() -> HeuristicScorer:
    """The built-in prompt-injection heuristic (registry name ``injection-heuristic``)."""
    return HeuristicScorer("injection-heuristic", "injection", _INJECTION)


def toxicity_scorer() -> HeuristicScorer:
    """The built-in toxicity heuristic (registry name ``toxicity-heuristic``)."""
    return HeuristicScorer("toxicity-heuristic", "toxicity", _TOXICITY)
