"""The one hardened stream decoder every codec shares.

SageMaker hands a stream over as ``PayloadPart`` byte chunks whose boundaries are
arbitrary: a chunk may end inside a line, inside a JSON string, or inside a multi-byte
UTF-8 character. :class:`LineDecoder` buffers bytes until a whole line is there and only
then decodes it; it accepts SSE (``data:`` with or without a space, comments, ``event:``
and ``id:`` fields, blank separators), bare JSON lines, and ``[DONE]``.
:class:`StreamAssembler` turns the codec's per-record :class:`Chunk` into contract events,
trims stop sequences the container echoed, and ends with exactly one ``FinishEvent``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from byom_sdk import FinishEvent, StreamEvent, TextDelta, Usage, UsageEvent

if TYPE_CHECKING:
    from byom_sdk import FinishReason

    from ._codec import Codec

__all__ = [
    "DONE",
    "Chunk",
    "ContainerError",
    "LineDecoder",
    "StopTrimmer",
    "StreamAssembler",
    "StreamDecodeError",
    "decode_stream",
    "trim_stop",
]


class _Done:
    def __repr__(self) -> str:
        return "DONE"


#: returned by :class:`LineDecoder` for a ``[DONE]`` line.
DONE: Any = _Done()

_SKIPPED_FIELDS = (b"event:", b"id:", b"retry:")


class StreamDecodeError(ValueError):
    """A stream line that is neither SSE framing nor JSON (the line is in ``line``)."""

    def __init__(self, message: str, line: bytes) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Chunk:
    """What a codec read from one stream record.

    :param text: the new text (a delta, never the whole text so far).
    :param finish_reason: set on the record that ends the generation.
    :param usage: token usage, when the record carries it.
    :param error: an in-stream error message from the container.
    """

    text: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    error: str | None = None


class LineDecoder:
    """Bytes in, decoded stream records out (JSON values, or :data:`DONE`)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """Add bytes; return the records of every line completed by them."""
        self._buffer += data
        end = self._buffer.rfind(b"\n")
        if end == -1:
            return []
        complete = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        records = []
        for line in complete.split(b"\n"):
            record = self._decode(line)
            if record is not None:
                records.append(record)
        return records

    def flush(self) -> list[Any]:
        """The record of a final line that had no newline (streams may end without one)."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        record = self._decode(rest)
        return [] if record is None else [record]

    @staticmethod
    def _decode(line: bytes) -> Any:
        line = line.strip()
        if not line or line.startswith(b":"):
            return None  # blank separator or SSE comment
        if line.startswith(b"data:"):
            line = line[5:].strip()
            if not line:
                return None
        elif line.startswith(_SKIPPED_FIELDS):
            return None
        if line == b"[DONE]":
            return DONE
        try:
            return json.loads(line)
        except ValueError as exc:
            shown = line[:200].decode("utf-8", "replace")
            raise StreamDecodeError(f"stream line is not JSON: {shown!r} ({exc})", line) from None


class StopTrimmer:
    """Cuts streamed text at the first stop sequence, holding back possible prefixes.

    Containers differ in whether the stop sequence itself is part of the output; the
    contract says it is not, so the client enforces it for every codec.
    """

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
        cut = min((i for i in (buffer.find(s) for s in self.stops) if i != -1), default=-1)
        if cut != -1:
            self.hit = True
            self._pending = ""
            return buffer[:cut]
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


def trim_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut before its first stop sequence, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops) if i != -1), default=-1)
    return (text, False) if cut == -1 else (text[:cut], True)


class ContainerError(RuntimeError):
    """The container answered HTTP 200 but its body (or a stream record) reports an error."""


class StreamAssembler:
    """Turns records into contract events for one stream.

    :param codec: decodes each JSON record into a :class:`Chunk`.
    :param prompt: the prompt text, for a usage estimate when the server sends none.
    :param stops: the request's stop sequences.
    """

    def __init__(self, codec: Codec, *, prompt: str, stops: Sequence[str]) -> None:
        self._codec = codec
        self._prompt = prompt
        self._trim = StopTrimmer(stops)
        self._lines = LineDecoder()
        self._text: list[str] = []
        self._finish: FinishReason | None = None
        self._usage: Usage | None = None
        self._done = False

    def feed(self, data: bytes) -> Iterator[StreamEvent]:
        """Events for the records completed by ``data``."""
        for record in self._lines.feed(data):
            yield from self._record(record)

    def _record(self, record: Any) -> Iterator[StreamEvent]:
        if record is DONE:
            self._done = True
            return
        chunk = self._codec.decode_chunk(record)
        if chunk is None:
            return
        if chunk.error is not None:
            raise ContainerError(chunk.error)
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.text and not self._done:
            text = self._trim.feed(chunk.text)
            if text:
                self._text.append(text)
                yield TextDelta(text=text)
        if chunk.finish_reason is not None:
            self._finish = chunk.finish_reason

    def finish(self) -> Iterator[StreamEvent]:
        """The closing events: held-back text, usage, then exactly one finish event."""
        for record in self._lines.flush():
            yield from self._record(record)
        rest = self._trim.end()
        if rest:
            self._text.append(rest)
            yield TextDelta(text=rest)
        usage = self._usage
        if usage is None:
            usage = Usage.estimate(self._prompt, "".join(self._text))
        else:
            yield UsageEvent(usage=usage)
        finish: FinishReason = "stop" if self._trim.hit else (self._finish or "stop")
        yield FinishEvent(finish_reason=finish, usage=usage)

    @property
    def text(self) -> str:
        return "".join(self._text)


def decode_stream(
    codec: Codec, parts: Iterable[bytes], *, prompt: str = "", stops: Sequence[str] = ()
) -> list[StreamEvent]:
    """Decode a whole stream given as byte parts (a convenience for tests and tools)."""
    assembler = StreamAssembler(codec, prompt=prompt, stops=stops)
    events: list[StreamEvent] = []
    for part in parts:
        events.extend(assembler.feed(part))
    events.extend(assembler.finish())
    return events
