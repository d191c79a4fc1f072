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
    ``close()`` decodes a last line that had no newline (streams may end without one)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[Any]:
        if not chunk:
            return []
        buffer = self._buffer
        buffer += chunk
        if b"\n" not in chunk:
            return []
        records: list[Any] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            record = _decode(bytes(buffer[start:end]))
            if record is not None:
                records.append(record)
            start = end + 1
        del buffer[:start]
        return records

    def close(self) -> list[Any]:
        if not self._buffer:
            return []
        line = bytes(self._buffer)
        self._buffer.clear()
        record = _decode(line)
        return [] if record is None else [record]

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the end of their line."""
        return len(self._buffer)


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
