"""Token sampling and the text side of generation: incremental detokenisation and stop strings.

Sampling runs in numpy on the last position's logits (about 0.1 ms for a 49k vocabulary).
Text is produced with ``tokenizers.decoders.DecodeStream``, which holds back bytes of an
incomplete UTF-8 character; stop strings are matched on decoded text and any suffix that
could still become a stop string is held back, so a stop string never reaches the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SamplingParams", "StopTextAssembler", "sample_token"]


@dataclass(frozen=True)
class SamplingParams:
    """Resolved sampling settings for one call (``temperature == 0`` is greedy)."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


def sample_token(logits: np.ndarray, params: SamplingParams, history: list[int], rng: np.random.Generator) -> int:
    """Pick the next token id from ``logits (vocab,)``.

    Repetition penalty follows CTRL / transformers: positive logits of seen tokens are
    divided by the penalty, negative ones multiplied.
    """
    import numpy as np

    scores = np.asarray(logits, dtype=np.float32)
    if params.repetition_penalty != 1.0 and history:
        seen = np.unique(np.asarray(history, dtype=np.int64))
        seen = seen[seen < scores.shape[0]]
        scores = scores.copy()
        values = scores[seen]
        scores[seen] = np.where(values > 0, values / params.repetition_penalty, values * params.repetition_penalty)
    if params.greedy:
        return int(np.argmax(scores))
    scaled = scores.astype(np.float64) / params.temperature
    candidates = np.arange(scaled.shape[0])
    if 0 < params.top_k < scaled.shape[0]:
        candidates = np.argpartition(-scaled, params.top_k - 1)[: params.top_k]
    chosen = scaled[candidates]
    order = np.argsort(-chosen, kind="stable")
    candidates, chosen = candidates[order], chosen[order]
    probs = np.exp(chosen - chosen[0])
    probs /= probs.sum()
    if params.top_p < 1.0:
        # Keep the smallest prefix whose mass reaches top_p (always at least one token).
        keep = int(np.searchsorted(np.cumsum(probs), params.top_p) + 1)
        candidates, probs = candidates[:keep], probs[:keep] / probs[:keep].sum()
    return int(candidates[rng.choice(len(candidates), p=probs)])


class StopTextAssembler:
    """Turns token ids into safe-to-emit text deltas, honouring stop strings.

    :param tokenizer: the ``tokenizers.Tokenizer``.
    :param stop: stop strings; the text before the first occurrence is the answer.
    """

    def __init__(self, tokenizer: Any, stop: tuple[str, ...] = ()) -> None:
        self._tokenizer = tokenizer
        self._stop = tuple(s for s in stop if s)
        self._text = ""
        self._emitted = 0
        self._ids: list[int] = []
        self._prefix_text = ""
        self.stopped = False
        try:
            from tokenizers.decoders import DecodeStream

            self._stream: Any = DecodeStream(skip_special_tokens=True)
        except ImportError:  # tokenizers < 0.21: decode the whole sequence and diff
            self._stream = None

    @property
    def text(self) -> str:
        """Everything emitted so far (never contains a stop string)."""
        return self._text[: self._emitted]

    def _decode_piece(self, token_id: int) -> str:
        if self._stream is not None:
            piece = self._stream.step(self._tokenizer, token_id)
            return piece or ""
        self._ids.append(token_id)
        full = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        if full.endswith("\ufffd"):
            return ""  # an incomplete UTF-8 character: wait for its remaining bytes
        piece, self._prefix_text = full[len(self._prefix_text) :], full
        return str(piece)

    def push(self, token_id: int) -> str:
        """Add one generated token; returns the text that is now safe to emit."""
        if self.stopped:
            return ""
        self._text += self._decode_piece(token_id)
        return self._release(final=False)

    def finish(self) -> str:
        """No more tokens: release what was held back (unless a stop string matched)."""
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        if self.stopped:
            return ""
        if self._stop:
            longest = max(len(s) for s in self._stop)
            start = max(0, self._emitted - longest + 1)
            hits = [i for i in (self._text.find(s, start) for s in self._stop) if i != -1]
            if hits:
                cut = min(hits)
                self._text = self._text[:cut]
                self.stopped = True
                out, self._emitted = self._text[self._emitted :], len(self._text)
                return out
        safe = len(self._text)
        if self._stop and not final:
            # Hold back the longest tail that is still the beginning of some stop string.
            for s in self._stop:
                for size in range(min(len(s) - 1, len(self._text) - self._emitted), 0, -1):
                    if self._text.endswith(s[:size]):
                        safe = min(safe, len(self._text) - size)
                        break
        out, self._emitted = self._text[self._emitted : safe], max(self._emitted, safe)
        return out
