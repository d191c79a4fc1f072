"""What this process sends over HTTP/1.1, read off its sockets while a check runs.

The ``wire.*`` checks need the request bodies a plugin sent. A harness can hand them over
(``received_requests``); without that, :class:`WireCapture` wraps the send methods of
``socket.socket`` (and ``ssl.SSLSocket``, so a TLS connection is read before encryption)
for the duration of one call, and parses each connection's bytes as HTTP/1.1 requests.
That covers httpx, requests, urllib3 and botocore, sync and on asyncio's selector loop.
Streams that do not start with a request line (a loopback server's answers, HTTP/2, gRPC)
are left out; a check that captured nothing says so and skips.
"""

from __future__ import annotations

import gzip
import itertools
import re
import socket
import ssl
import threading
import weakref
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CapturedRequest", "WireCapture", "parse_requests"]

_REQUEST_LINE = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.[01]")
_PATCHED: tuple[tuple[type, str], ...] = (
    (socket.socket, "send"),
    (socket.socket, "sendall"),
    (socket.socket, "sendmsg"),
    (ssl.SSLSocket, "send"),
    (ssl.SSLSocket, "sendall"),
    # asyncio (and anyio) encrypt through an SSLObject over memory buffers: the socket only
    # ever carries ciphertext there.
    (ssl.SSLObject, "write"),
)


@dataclass(frozen=True)
class CapturedRequest:
    """One HTTP request as it left the process."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    #: global order of the request's first byte among everything captured.
    order: int = 0
    #: where the connection went: the peer address, or the TLS server name.
    peer: object = None


@dataclass
class _Stream:
    peer: object = None
    data: bytearray = field(default_factory=bytearray)
    #: (offset in data, global order) of each chunk
    chunks: list[tuple[int, int]] = field(default_factory=list)

    def order_at(self, offset: int) -> int:
        order = 0
        for start, seq in self.chunks:
            if start > offset:
                break
            order = seq
        return order


class _Recorder:
    """The one set of wrappers, installed while at least one capture is active."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: list[WireCapture] = []
        self.originals: dict[tuple[type, str], Callable[..., Any] | None] = {}
        self.local = threading.local()
        self.sequence = itertools.count()

    def start(self, capture: WireCapture) -> None:
        with self.lock:
            self.active.append(capture)
            if len(self.active) == 1:
                for cls, name in _PATCHED:
                    original = getattr(cls, name, None)
                    if original is None:
                        continue
                    # socket.socket inherits its send methods from _socket.socket (C): the
                    # wrapper shadows them on the Python class and is deleted afterwards.
                    self.originals[(cls, name)] = cls.__dict__.get(name)
                    setattr(cls, name, self._wrap(original, name))

    def stop(self, capture: WireCapture) -> None:
        with self.lock:
            self.active.remove(capture)
            if not self.active:
                for (cls, name), original in self.originals.items():
                    if original is None:
                        delattr(cls, name)
                    else:
                        setattr(cls, name, original)
                self.originals.clear()

    def _wrap(self, original: Callable[..., Any], name: str) -> Callable[..., Any]:
        recorder = self

        def send(sock: socket.socket, data: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(recorder.local, "inside", False):  # SSLSocket.sendall -> send: once
                return original(sock, data, *args, **kwargs)
            recorder.local.inside = True
            try:
                result = original(sock, data, *args, **kwargs)
            finally:
                recorder.local.inside = False
            try:
                payload = b"".join(bytes(b) for b in data) if name == "sendmsg" else bytes(data)
            except TypeError:
                return result
            if name in ("send", "sendmsg", "write") and isinstance(result, int):
                payload = payload[:result]
            recorder.record(sock, payload)
            return result

        send.__wrapped__ = original  # type: ignore[attr-defined]
        return send

    def record(self, sock: Any, payload: bytes) -> None:
        if not payload:
            return
        with self.lock:
            order = next(self.sequence)
            for capture in self.active:
                capture._add(sock, payload, order)


_RECORDER = _Recorder()


class WireCapture:
    """``with WireCapture() as capture:`` records the HTTP/1.1 requests sent meanwhile;
    ``capture.requests()`` parses them, in the order they were sent."""

    def __init__(self) -> None:
        # A socket's stream outlives the socket (a client closes it before the check reads).
        self._streams: weakref.WeakKeyDictionary[Any, _Stream] = weakref.WeakKeyDictionary()
        self._all: list[_Stream] = []

    def __enter__(self) -> WireCapture:
        _RECORDER.start(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _RECORDER.stop(self)

    def _add(self, sock: Any, payload: bytes, order: int) -> None:
        stream = self._streams.get(sock)
        if stream is None:
            stream = self._streams[sock] = _Stream(_peer(sock))
            self._all.append(stream)
        stream.chunks.append((len(stream.data), order))
        stream.data += payload

    def requests(self) -> list[CapturedRequest]:
        found: list[CapturedRequest] = []
        for stream in self._all:
            found += parse_requests(bytes(stream.data), stream.order_at, peer=stream.peer)
        return sorted(found, key=lambda r: r.order)


def _peer(sock: Any) -> object:
    try:
        return sock.getpeername()  # a socket
    except Exception:  # noqa: BLE001 - an SSLObject, or a socket already closed
        return getattr(sock, "server_hostname", None)


def _decoded(body: bytes, encoding: str) -> bytes:
    """The body as sent before ``Content-Encoding`` (left as it is when it cannot be)."""
    try:
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some clients send
        if encoding == "br":
            import brotli  # type: ignore[import-not-found,import-untyped,unused-ignore]

            decompressed: bytes = brotli.decompress(body)
            return decompressed
    except Exception:  # noqa: BLE001 - not decodable here: searched as sent.
        return body
    return body


def parse_requests(
    data: bytes, order_at: Callable[[int], int] = lambda _: 0, *, peer: object = None
) -> list[CapturedRequest]:
    """The complete HTTP/1.1 requests at the start of one connection's bytes (none when the
    bytes are not a client's: a server's answers, another protocol)."""
    requests = []
    offset = 0
    while offset < len(data):
        start = offset
        end = data.find(b"\r\n\r\n", offset)
        if end < 0:
            break
        lines = data[offset:end].split(b"\r\n")
        match = _REQUEST_LINE.fullmatch(lines[0])
        if match is None:
            break
        headers = _headers(lines[1:])
        body_start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parsed = _dechunk(data, body_start)
            if parsed is None:
                break
            body, offset = parsed
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                break
            if body_start + length > len(data):
                break
            body, offset = data[body_start : body_start + length], body_start + length
        method, target = (part.decode("latin-1") for part in match.groups())
        encoding = headers.get("content-encoding", "").strip().lower()
        content = _decoded(bytes(body), encoding) if encoding else bytes(body)
        requests.append(CapturedRequest(method, target, headers, content, order_at(start), peer))
    return requests


def _headers(lines: Iterable[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return headers


def _dechunk(data: bytes, offset: int) -> tuple[bytes, int] | None:
    body = bytearray()
    while True:
        end = data.find(b"\r\n", offset)
        if end < 0:
            return None
        try:
            size = int(data[offset:end].split(b";")[0], 16)
        except ValueError:
            return None
        start = end + 2
        if size == 0:
            trailer_end = data.find(b"\r\n\r\n", end)
            return (bytes(body), trailer_end + 4) if trailer_end >= 0 else None
        if start + size + 2 > len(data):
            return None
        body += data[start : start + size]
        offset = start + size + 2
