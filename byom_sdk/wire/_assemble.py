"""Stream records → contract events, the same way for every protocol and transport.

Text deltas are cut at the first stop sequence (holding back what could be its start),
tool-call fragments are assembled by index and sent whole at the end, usage is taken
from whichever record carries it, and the stream ends with exactly one usage event and
one finish event — the usage the container reported, or an estimate tagged as such.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .._types import FinishEvent, FinishReason, StreamEvent, TextDelta, ToolCall, ToolCallEvent, Usage, UsageEvent
from ._codec import Chunk, Codec, ContainerError
from ._lines import DONE, LineDecoder, StreamDecodeError
from ._stop import StopTrimmer

__all__ = ["StreamAssembler", "StreamEnded", "decode_stream"]


class StreamEnded(RuntimeError):
    """The stream ended without the end its protocol promises (no finish, no ``[DONE]``)."""


class StreamAssembler:
    """Assembles one stream.

    :param codec: decodes each record into a :class:`Chunk`.
    :param prompt: the prompt text, for a usage estimate when the container sends none.
    :param stops: the request's stop sequences.
    :param require_end: raise :class:`StreamEnded` at :meth:`finish` when neither a finish
        reason nor ``[DONE]`` arrived (protocols that always send one: a silent end means
        the stream was cut); by default the codec's ``require_end``.
    """

    def __init__(
        self, codec: Codec, *, prompt: str, stops: Sequence[str] = (), require_end: bool | None = None
    ) -> None:
        self._codec = codec
        self._prompt = prompt
        self._trim = StopTrimmer(stops)
        self._lines = LineDecoder()
        self._text: list[str] = []
        self._finish: FinishReason | None = None
        self._usage: Usage | None = None
        #: (index, calls seen before at that index) -> [id, name, arguments].
        self._tools: dict[tuple[int, int], list[str]] = {}
        self._generation: dict[int, int] = {}
        self._require_end = bool(getattr(codec, "require_end", False)) if require_end is None else require_end
        #: ``[DONE]`` arrived; later records are ignored.
        self.done = False

    def feed(self, data: bytes) -> list[StreamEvent]:
        """Events for the records completed by ``data`` (SSE or JSON Lines bytes)."""
        events: list[StreamEvent] = []
        for record in self._lines.feed(data):
            self._record(record, events)
        return events

    def feed_record(self, record: Any) -> list[StreamEvent]:
        """Events for one already-decoded record (gRPC server streaming)."""
        events: list[StreamEvent] = []
        self._record(record, events)
        return events

    def _record(self, record: Any, events: list[StreamEvent]) -> None:
        if record is DONE:
            self.done = True
            return
        if self.done:
            return
        chunk = self._codec.decode_chunk(record)
        if chunk is None:
            return
        self._chunk(chunk, events)

    def _chunk(self, chunk: Chunk, events: list[StreamEvent]) -> None:
        if chunk.error is not None:
            raise ContainerError(chunk.error, body=chunk.error_body)
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.text:
            text = self._trim.feed(chunk.text)
            if text:
                self._text.append(text)
                events.append(TextDelta(text=text))
        for delta in chunk.tools:
            generation = self._generation.get(delta.index, 0)
            slot = self._tools.get((delta.index, generation))
            if slot is not None and delta.id and slot[0] and delta.id != slot[0]:
                # Another call's id at the same index: servers that send each call in chunks
                # of its own without an index (Ollama before 0.4.7) start a new call so.
                generation = self._generation[delta.index] = generation + 1
                slot = None
            if slot is None:
                slot = self._tools[(delta.index, generation)] = ["", "", ""]
            slot[0] = delta.id or slot[0]
            if delta.name != slot[1]:  # LMI repeats the whole name in every chunk
                slot[1] += delta.name
            slot[2] += delta.arguments
        if chunk.finish_reason is not None:
            self._finish = chunk.finish_reason

    def finish(self) -> list[StreamEvent]:
        """The closing events: held-back text, tool calls, usage, then one finish event."""
        events: list[StreamEvent] = []
        try:
            last = self._lines.close()
        except StreamDecodeError as exc:
            if exc.line.lstrip()[:1] not in (b"{", b"["):
                raise  # not a record at all: the container answered something else
            # A JSON value begun and not finished: the body ended inside it (a connection
            # closed mid-write, no framing to tell), a cut stream, not an undecodable one.
            raise StreamEnded(f"the stream ended in the middle of a record ({exc})") from None
        for record in last:
            self._record(record, events)
        if self._require_end and self._finish is None and not self.done:
            raise StreamEnded("the stream ended before the container sent its end (finish reason or [DONE])")
        rest = self._trim.end()
        if rest:
            self._text.append(rest)
            events.append(TextDelta(text=rest))
        for index, generation in sorted(self._tools):
            call_id, name, arguments = self._tools[(index, generation)]
            if not name:
                name, arguments = _named_inside(arguments)
            fallback = f"call_{index}_{generation}" if generation else f"call_{index}"
            events.append(
                ToolCallEvent(tool_call=ToolCall(id=call_id or fallback, name=name, arguments=arguments or "{}"))
            )
        usage = self._usage or Usage.estimate(self._prompt, "".join(self._text))
        events.append(UsageEvent(usage=usage))
        if self._trim.hit:
            reason: FinishReason = "stop"
        else:
            reason = self._finish or ("tool_calls" if self._tools else "stop")
        events.append(FinishEvent(finish_reason=reason, usage=usage))
        return events

    @property
    def text(self) -> str:
        """The text assembled so far (after stop trimming)."""
        return "".join(self._text)


def decode_stream(
    codec: Codec, parts: Iterable[bytes], *, prompt: str = "", stops: Sequence[str] = ()
) -> list[StreamEvent]:
    """Decode a whole stream given as byte parts (tests, tools)."""
    assembler = StreamAssembler(codec, prompt=prompt, stops=stops)
    events: list[StreamEvent] = []
    for part in parts:
        events.extend(assembler.feed(part))
    events.extend(assembler.finish())
    return events


_TRAILING_SPECIAL = re.compile(r"(?:<\|[^|<>]{1,40}\|>|</s>)+\s*$")


def _named_inside(arguments: str) -> tuple[str, str]:
    """TGI 2.0-3.1 streams a tool call without a name, its arguments being
    ``{"function": {"_name": NAME, ...arguments}}``: the name and the arguments."""
    try:
        parsed = json.loads(_TRAILING_SPECIAL.sub("", arguments))  # TGI 3.1 leaves "<|eot_id|>" at the end
    except ValueError:
        return "", arguments
    function = parsed.get("function") if isinstance(parsed, dict) else None
    if isinstance(function, dict) and isinstance(function.get("_name"), str):
        rest = {key: value for key, value in function.items() if key != "_name"}
        return function["_name"], json.dumps(rest, ensure_ascii=False)
    return "", arguments
