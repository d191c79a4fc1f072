"""One hardened decoder for streamed bodies: bytes in, JSON records out.

Containers stream Server-Sent Events (``data:`` with or without a space, comments,
``event:``/``id:``/``retry:`` fields, blank separators) or JSON Lines, ending with
``[DONE]`` or not. Transports hand the bytes over in chunks cut wherever the container's
writes, the proxies and the framing (AWS event stream ``PayloadPart``, Vertex ``HttpBody``,
HTTP chunks) happened to cut them: inside a line, a JSON string or a UTF-8 character. The
decoder buffers bytes until a line is complete and only then decodes it.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["DONE", "LineDecoder", "StreamDecodeError"]


class _Done:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DONE"


#: the record of a ``[DONE]`` line.
DONE: Final[Any] = _Done()

_IGNORED_FIELDS = (b"event:", b"id:", b"retry:")


class StreamDecodeError(ValueError):
    """A complete stream line that is neither SSE framing nor JSON (kept in ``line``)."""

    def __init__(self, line: bytes) -> None:
        shown = line[:200].decode("utf-8", "replace")
        super().__init__(f"stream line is not JSON: {shown!r}")
        self.line = line


class LineDecoder:
    """Incremental: ``feed(chunk)`` returns the records of every line ``chunk`` completed;
    ``close()`` decodes a last line that had no newline (streams may end without one).

    Lines end in LF, CRLF or a lone CR (SSE allows all three; JSON text holds no raw CR).
    A ``data:`` line that is not JSON alone starts an event whose data spans several
    ``data:`` lines: they are joined with newlines and decoded at the blank line that ends
    the event, as the SSE specification says. A UTF-8 byte order mark opening the stream is
    dropped.
    """

    __slots__ = ("_buffer", "_event", "_started")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._event: list[bytes] | None = None  # the data lines of an event still open
        self._started = False

    def feed(self, chunk: bytes) -> list[Any]:
        if not chunk:
            return []
        buffer = self._buffer
        buffer += chunk
        if not self._started:
            if len(buffer) < 3 and b"\xef\xbb\xbf".startswith(bytes(buffer)):
                return []  # perhaps a byte order mark cut by the chunking
            self._started = True
            if buffer.startswith(b"\xef\xbb\xbf"):
                del buffer[:3]
        if b"\r" in buffer:
            # One LF per line end; a CR ending the buffer waits for the LF that may follow.
            held = buffer.endswith(b"\r")
            normal = bytes(buffer[:-1] if held else buffer).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            buffer[:] = normal + b"\r" if held else normal
            if b"\n" not in normal:
                return []
        elif b"\n" not in chunk:
            return []
        records: list[Any] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            self._line(bytes(buffer[start:end]), records)
            start = end + 1
        del buffer[:start]
        return records

    def _line(self, line: bytes, records: list[Any]) -> None:
        event = self._event
        if event is not None:
            stripped = line.strip()
            if stripped.startswith(b"data:"):
                event.append(_data_of(stripped))
                return
            if stripped and not stripped.startswith((b":", *_IGNORED_FIELDS)):
                self._end_event(records)  # a line of another kind: the event is over
            elif not stripped:
                self._end_event(records)
                return
        try:
            record = _decode(line)
        except StreamDecodeError:
            stripped = line.strip()
            if not stripped.startswith(b"data:"):
                raise
            self._event = [_data_of(stripped)]  # perhaps the first of several data lines
            return
        if record is not None:
            records.append(record)

    def _end_event(self, records: list[Any]) -> None:
        event, self._event = self._event, None
        if event is None:
            return
        joined = b"\n".join(event)
        try:
            records.append(json.loads(joined))
        except ValueError:
            raise StreamDecodeError(joined) from None

    def close(self) -> list[Any]:
        records: list[Any] = []
        if self._buffer.endswith(b"\r"):
            del self._buffer[-1:]
        if self._buffer:
            line = bytes(self._buffer)
            self._buffer.clear()
            self._line(line, records)
        self._end_event(records)
        return records

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the end of their line or event."""
        return len(self._buffer) + sum(len(data) + 1 for data in self._event or ())


def _data_of(line: bytes) -> bytes:
    """The value of a stripped ``data:`` line (one optional space after the colon)."""
    value = line[5:]
    return value[1:] if value[:1] == b" " else value


def _decode(line: bytes) -> Any:
    line = line.strip()
    if not line or line.startswith(b":"):
        return None  # blank separator or SSE comment
    if line.startswith(b"data:"):
        line = line[5:].strip()
        if not line:
            return None
    elif line.startswith(b"error:"):
        # llama.cpp's server reports a failure as an "error:" field: an error record.
        try:
            return {"error": json.loads(line[6:].strip())}
        except ValueError:
            return {"error": line[6:].strip().decode("utf-8", "replace") or "stream error"}
    elif line.startswith(_IGNORED_FIELDS):
        return None
    if line == b"[DONE]":
        return DONE
    try:
        return json.loads(line)
    except ValueError:
        raise StreamDecodeError(line) from None
