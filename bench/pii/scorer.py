"""Span scoring for PII detection: per-type recall and precision, and hard negatives hit.

Rules (tested in tests/trust/test_pii_scorer.py):

- Only the *evaluated types* count; predictions of other types (Presidio's URL or
  DATE_TIME, say) are tallied under ``other_types`` and otherwise ignored. Types are
  compared after ``aliases`` (``EMAIL_ADDRESS`` → ``EMAIL``…).
- **Recall (strict, "nothing leaks")**: a gold span is found when every alphanumeric
  character of it lies inside predictions of its type. A value cut short, or split
  into two types, is a miss: its rest would have reached the model.
- **Recall (overlap)**: a gold span is found when a prediction of its type overlaps it
  (the rule bench/masking.py and most PII benchmarks use); reported alongside.
- **Precision**: a prediction is correct when it overlaps a gold span of its type and
  every alphanumeric character it covers lies inside gold spans of that type (no
  over-masking of neighbouring words). A prediction over a gold span of another type is
  a false positive of its own type.
- **Hard negatives**: a negative is hit when any prediction of an evaluated type
  overlaps it; the share of negatives hit is reported per kind.
- Predictions are not merged or de-duplicated: the masker resolves overlaps before it
  reports them, and so should any detector scored here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Scores", "score_corpus", "score_document"]

SpanT = Sequence[object]  # (start, end, type)


@dataclass
class Scores:
    """Counts per type; ``recall``/``precision`` compute the ratios."""

    gold: Counter[str] = field(default_factory=Counter)
    found_strict: Counter[str] = field(default_factory=Counter)
    found_overlap: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    correct: Counter[str] = field(default_factory=Counter)
    negatives: Counter[str] = field(default_factory=Counter)
    negatives_hit: Counter[str] = field(default_factory=Counter)
    other_types: Counter[str] = field(default_factory=Counter)
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    false_positives: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, other: Scores) -> None:
        for name in ("gold", "found_strict", "found_overlap", "predicted", "correct", "negatives", "negatives_hit",
                     "other_types"):  # fmt: skip
            getattr(self, name).update(getattr(other, name))
        self.misses.extend(other.misses)
        self.false_positives.extend(other.false_positives)

    def recall(self, entity: str | None = None, *, strict: bool = True) -> float:
        found = self.found_strict if strict else self.found_overlap
        if entity is None:
            total = sum(self.gold.values())
            return sum(found.values()) / total if total else float("nan")
        return found[entity] / self.gold[entity] if self.gold[entity] else float("nan")

    def precision(self, entity: str | None = None) -> float:
        if entity is None:
            total = sum(self.predicted.values())
            return sum(self.correct.values()) / total if total else float("nan")
        return self.correct[entity] / self.predicted[entity] if self.predicted[entity] else float("nan")

    def negative_rate(self, kind: str | None = None) -> float:
        if kind is None:
            total = sum(self.negatives.values())
            return sum(self.negatives_hit.values()) / total if total else 0.0
        return self.negatives_hit[kind] / self.negatives[kind] if self.negatives[kind] else 0.0


def _covered(text: str, start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    """Every alphanumeric character of ``text[start:end]`` lies inside ``spans``."""
    marks = [False] * (end - start)
    for s, e in spans:
        for i in range(max(s, start), min(e, end)):
            marks[i - start] = True
    return all(marks[i - start] or not text[i].isalnum() for i in range(start, end))


def score_document(
    text: str,
    gold: Sequence[SpanT],
    predicted: Sequence[SpanT],
    negatives: Sequence[SpanT] = (),
    *,
    types: Iterable[str],
    aliases: Mapping[str, str] | None = None,
    doc_id: str = "",
) -> Scores:
    """Scores of one document (``gold``/``predicted``/``negatives``: (start, end, type))."""
    evaluated = frozenset(types)
    alias = dict(aliases or {})
    scores = Scores()
    preds: list[tuple[int, int, str]] = []
    for start, end, entity in ((int(s), int(e), str(t)) for s, e, t in predicted):  # type: ignore[call-overload]
        entity = alias.get(entity, entity)
        if entity in evaluated:
            preds.append((start, end, entity))
        else:
            scores.other_types[entity] += 1
    golds = [(int(s), int(e), str(t)) for s, e, t in gold if str(t) in evaluated]  # type: ignore[call-overload]
    for start, end, entity in golds:
        scores.gold[entity] += 1
        same = [(s, e) for s, e, t in preds if t == entity and s < end and start < e]
        if same:
            scores.found_overlap[entity] += 1
        if same and _covered(text, start, end, same):
            scores.found_strict[entity] += 1
        else:
            scores.misses.append((doc_id, entity, text[start:end]))
    for start, end, entity in preds:
        scores.predicted[entity] += 1
        same = [(s, e) for s, e, t in golds if t == entity]
        if any(s < end and start < e for s, e in same) and _covered(text, start, end, same):
            scores.correct[entity] += 1
        else:
            scores.false_positives.append((doc_id, entity, text[max(0, start - 20) : end + 20]))
    for start, end, kind in ((int(s), int(e), str(k)) for s, e, k in negatives):  # type: ignore[call-overload]
        scores.negatives[kind] += 1
        if any(s < end and start < e for s, e, _ in preds):
            scores.negatives_hit[kind] += 1
    return scores


def score_corpus(
    docs: Sequence[Mapping[str, object]],
    predictions: Sequence[Sequence[SpanT]],
    *,
    types: Iterable[str],
    aliases: Mapping[str, str] | None = None,
) -> Scores:
    """Scores summed over documents (``predictions[i]`` belongs to ``docs[i]``)."""
    total = Scores()
    wanted = tuple(types)
    for doc, preds in zip(docs, predictions, strict=True):
        total.add(
            score_document(
                str(doc["text"]),
                doc["spans"],  # type: ignore[arg-type]
                preds,
                doc.get("negatives", ()),  # type: ignore[arg-type]
                types=wanted,
                aliases=aliases,
                doc_id=str(doc.get("id", "")),
            )
        )
    return total
