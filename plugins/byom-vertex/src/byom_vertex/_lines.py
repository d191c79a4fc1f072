"""One hardened decoder for streamed bodies: SSE (``data:`` with or without a space),
bare JSON lines, blank lines, comments and ``[DONE]``, fed arbitrary byte chunks.

Vertex hands a stream over as ``HttpBody`` chunks (gRPC) or wrapped bodies (REST) whose
boundaries are wherever the container's writes and the proxies happened to cut: never
trust a chunk to hold whole lines, or even whole UTF-8 characters.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["DONE", "LineDecoder", "StreamDecodeError"]


class _Done:
    def __repr__(self) -> str:
        return "DONE"


#: Yielded for a ``[DONE]`` line.
DONE: Final = _Done()

_FIELDS_IGNORED = (b"event:", b"id:", b"retry:")


class StreamDecodeError(ValueError):
    """A complete line of the stream was not JSON."""

    def __init__(self, line: bytes) -> None:
        shown = line[:200].decode("utf-8", "replace")
        super().__init__(f"stream line is not JSON: {shown!r}")
        self.line = line


class LineDecoder:
    """Incremental decoder: ``feed(chunk)`` returns the JSON values (or :data:`DONE`) of
    every line completed by ``chunk``; ``close()`` flushes a last unterminated line."""

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
        items: list[Any] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            self._line(bytes(buffer[start:end]), items)
            start = end + 1
        del buffer[:start]
        return items

    def close(self) -> list[Any]:
        items: list[Any] = []
        if self._buffer:
            line = bytes(self._buffer)
            self._buffer.clear()
            self._line(line, items)
        return items

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the end of their line."""
        return len(self._buffer)

    @staticmethod
    def _line(line: bytes, items: list[Any]) -> None:
        line = line.strip()
        if not line or line.startswith(b":"):
            return  # event separator or SSE comment (keep-alive)
        if line.startswith(b"data:"):
            line = line[5:].strip()
            if not line:
                return
        elif line.startswith(_FIELDS_IGNORED):
            return
        if line == b"[DONE]":
            items.append(DONE)
            return
        try:
            items.append(json.loads(line))
        except ValueError:
            raise StreamDecodeError(line) from None
