"""A small AWS event-stream encoder (botocore ships only the decoder).

Frame layout (wire-protocols.md §1.3)::

    [total_len u32][headers_len u32][prelude_crc u32][headers][payload][message_crc u32]

Only string headers (type 7) are needed for SageMaker's ``PayloadPart`` and exception
events. Tests check every frame with ``botocore.eventstream.EventStreamBuffer``.
"""

from __future__ import annotations

import json
import struct
from binascii import crc32
from collections.abc import Mapping

__all__ = ["encode_error", "encode_exception", "encode_message", "encode_payload_part"]

_STRING = 7


def _headers(headers: Mapping[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        if len(raw_name) > 255 or len(raw_value) > 65535:
            raise ValueError(f"event-stream header {name!r} is too long")
        out += struct.pack("!B", len(raw_name)) + raw_name
        out += struct.pack("!BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message with string headers and CRC32 checksums."""
    raw_headers = _headers(headers)
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    message = prelude + struct.pack("!I", crc32(prelude) & 0xFFFFFFFF) + raw_headers + payload
    return message + struct.pack("!I", crc32(message) & 0xFFFFFFFF)


def encode_payload_part(data: bytes) -> bytes:
    """A ``PayloadPart`` event carrying a piece of the container's output."""
    return encode_message(
        {":message-type": "event", ":event-type": "PayloadPart", ":content-type": "application/octet-stream"}, data
    )


def encode_exception(kind: str, message: str, *, error_code: str | None = None) -> bytes:
    """A modelled exception event (``ModelStreamError`` or ``InternalStreamFailure``)."""
    body: dict[str, str] = {"Message": message}
    if error_code:
        body["ErrorCode"] = error_code
    return encode_message(
        {":message-type": "exception", ":exception-type": kind, ":content-type": "application/json"},
        json.dumps(body).encode("utf-8"),
    )


def encode_error(code: str, message: str) -> bytes:
    """A generic ``:message-type error`` event."""
    return encode_message({":message-type": "error", ":error-code": code, ":error-message": message}, b"")
