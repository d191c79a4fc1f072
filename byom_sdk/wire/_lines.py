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

    Lines end in LF, CRLF or a lone CR (SSE allows all three). A ``data:`` line that opens
    a JSON object or array it does not close starts an event whose data spans several
    ``data:`` lines (sse-starlette splits pretty-printed JSON so): they are joined with
    newlines and decoded as soon as they form the value, at the latest at the blank line
    that ends the event, as the SSE specification says. A line that is not JSON and opens
    nothing, a record of its own while an event is open (a server that writes no blank
    lines), ``[DONE]`` inside an event, or an event past :data:`MAX_EVENT_BYTES` is an error
    at once: one bad line never swallows the records after it. A UTF-8 byte order mark
    opening the stream is dropped.
    """

    __slots__ = ("_buffer", "_event", "_event_size", "_started")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._event: list[bytes] | None = None  # the data lines of an event still open
        self._event_size = 0
        self._started = False

    def feed(self, chunk: bytes) -> list[Any]:
        if not chunk:
            return []
        buffer = self._buffer
        held = buffer.endswith(b"\r")  # a CR that waited for the LF that may follow
        buffer += chunk
        if not self._started:
            if len(buffer) < 3 and b"\xef\xbb\xbf".startswith(bytes(buffer)):
                return []  # perhaps a byte order mark cut by the chunking
            self._started = True
            if buffer.startswith(b"\xef\xbb\xbf"):
                del buffer[:3]
        if held or b"\r" in chunk:
            # One LF per line end (the buffer held no other CR: each was turned into one);
            # a CR ending the buffer waits for the LF that may follow.
            keep = buffer.endswith(b"\r")
            normal = bytes(buffer[:-1] if keep else buffer).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            buffer[:] = normal + b"\r" if keep else normal
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
        stripped = line.strip()
        if self._event is not None:
            if not stripped:
                self._end_event(records)  # the blank line that ends the event
                return
            if stripped.startswith(b"data:"):
                self._continue_event(_data_of(stripped), records)
                return
            if stripped.startswith(b":") or stripped.startswith(_IGNORED_FIELDS):
                return
            if stripped.startswith(b"error:"):
                self._event, self._event_size = None, 0  # the container's own error says more
            else:
                self._end_event(records)
        try:
            record = _decode(line)
        except StreamDecodeError:
            data = _data_of(stripped) if stripped.startswith(b"data:") else b""
            if data[:1] not in (b"{", b"["):
                raise  # opens no value that further data lines could close
            self._event, self._event_size = [data], len(data)
            return
        if record is not None:
            records.append(record)

    def _continue_event(self, data: bytes, records: list[Any]) -> None:
        event = self._event
        assert event is not None
        alone = _record_alone(data)
        if alone is not None:
            # A record of its own (or [DONE]) while the event's value is still open: the
            # open part was a broken line, not the head of a longer value.
            raise StreamDecodeError(b"\n".join(event))
        event.append(data)
        self._event_size += len(data) + 1
        if self._event_size > MAX_EVENT_BYTES:
            raise StreamDecodeError(b"\n".join(event))
        if data.rstrip()[-1:] not in (b"}", b"]"):
            return  # only a line that closes something can end the value: parse then
        try:
            value = json.loads(b"\n".join(event))
        except (ValueError, RecursionError):
            return
        self._event, self._event_size = None, 0
        records.append(value)

    def _end_event(self, records: list[Any]) -> None:
        event, self._event, self._event_size = self._event, None, 0
        if event is None:
            return
        joined = b"\n".join(event)
        try:
            records.append(json.loads(joined))
        except (ValueError, RecursionError):
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
        return len(self._buffer) + self._event_size


#: the most data one multi-line event may gather before it is taken for a broken line.
MAX_EVENT_BYTES = 1 << 20


def _record_alone(data: bytes) -> Any:
    """``data`` decoded when it is a record by itself (a JSON object with keys, or
    ``[DONE]``), else None: a line of a longer value is neither."""
    if data.strip() == b"[DONE]":
        return DONE
    if not (data.lstrip()[:1] == b"{" and data.rstrip()[-1:] == b"}"):
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and value else None


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
    except (ValueError, RecursionError):
        raise StreamDecodeError(line) from None
