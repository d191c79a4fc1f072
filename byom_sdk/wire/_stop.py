"""Stop sequences, enforced on the client for every protocol.

Containers differ in whether the stop sequence itself is part of the output (TGI includes
it, vLLM does not, some ignore ``stop`` while streaming); the contract says it is not, so
answers are trimmed here once, for unary and streamed answers alike.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopTrimmer", "trim_stop"]


def trim_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut before its first stop sequence, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops) if i != -1), default=-1)
    return (text, False) if cut == -1 else (text[:cut], True)


class StopTrimmer:
    """Cuts streamed text at the first stop sequence, holding back possible prefixes."""

    __slots__ = ("_pending", "hit", "stops")

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(stops)
        self._pending = ""
        self.hit = False

    def feed(self, text: str) -> str:
        if self.hit:
            return ""
        if not self.stops:
            return text
        buffer = self._pending + text
        text, hit = trim_stop(buffer, self.stops)
        if hit:
            self.hit = True
            self._pending = ""
            return text
        keep = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(buffer)), keep, -1):
                if buffer.endswith(stop[:size]):
                    keep = size
                    break
        self._pending = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def end(self) -> str:
        rest, self._pending = self._pending, ""
        return "" if self.hit else rest
