"""Running the app on uvicorn: in the foreground (``byom serve``) or on a background thread
(tests, examples, embedding in a process that has other work)."""

from __future__ import annotations

import math
import socket
import threading
import time
from types import TracebackType
from typing import Any

__all__ = ["ABORT_EXTENSION", "ServerThread", "bind", "http_protocol", "make_server", "uvicorn_config"]

#: the ASGI scope extension through which a response may drop its connection at once
#: (``scope["extensions"][ABORT_EXTENSION]["abort"]()``): a client that stopped reading
#: holds a closed transport open as long as unsent bytes wait in its buffer.
ABORT_EXTENSION = "byom.abort"
DEFAULT_MAX_HEADER_BYTES = 64 * 1024


def http_protocol(max_header_bytes: int, head_timeout: float | None = None) -> Any:
    """uvicorn's httptools protocol with a limit on the request head (request line plus
    header fields), which httptools itself does not have: over ``max_header_bytes`` the
    request is answered 414 (the target alone) or 431 and the connection closes. The
    parser stays httptools (h11 costs tens of µs per request more).

    Cheap on purpose (no per-header callback): a head that begins and ends in one chunk
    no longer than the limit fits, which is nearly every request, so its fields are summed
    only when the chunk was longer or the head spanned chunks; a chunk that arrives wholly
    inside a head counts in full, so a header field that never ends (httptools buffers it
    until it does) is dropped once the limit is passed. A head still incomplete
    ``head_timeout`` seconds after its first byte is answered 408 and the connection closes
    (uvicorn has no such timeout: a head trickled in a byte at a time would hold the socket
    indefinitely; the app bounds the body the same way). Also offers
    :data:`ABORT_EXTENSION` in every request's scope."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    limit = max_header_bytes

    class _HeadTooLarge(Exception):
        pass

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        _in_head = False  # between on_message_begin and on_headers_complete
        _spanned = False  # the current head began in an earlier chunk
        _chunk = 0  # length of the chunk being parsed
        _raw = 0  # bytes of chunks that arrived wholly inside the current head
        _refused = 0  # 414 / 431 once the head is over the limit
        _head_timer: Any = None  # the 408 for the current head, until it completes

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._extensions = {ABORT_EXTENSION: {"abort": transport.abort}}

        def data_received(self, data: bytes) -> None:
            in_head = self._in_head
            if in_head:
                self._spanned = True
            self._chunk = len(data)
            HttpToolsProtocol.data_received(self, data)
            if in_head and self._in_head and not self._refused:
                self._raw += len(data)
                if self._raw > limit:
                    self._refuse(431)

        def on_message_begin(self) -> None:
            HttpToolsProtocol.on_message_begin(self)
            self._in_head = True
            self._spanned = False
            self._raw = 0
            self.scope["extensions"] = self._extensions
            if head_timeout is not None:
                self._head_timer = self.loop.call_later(head_timeout, self._head_late)

        def _stop_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if not self._in_head or self._refused or self.transport.is_closing():
                return
            body = f"the request head did not arrive within {head_timeout:g} s".encode()
            self.logger.warning("refused a request: its head did not arrive within %g s (408)", head_timeout)
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (len(body), body)
            )
            self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_timer()
            HttpToolsProtocol.connection_lost(self, exc)

        def on_headers_complete(self) -> None:
            self._stop_head_timer()
            self._in_head = False
            if self._spanned or self._chunk > limit:
                target = len(self.url)
                if target + sum(len(name) + len(value) + 4 for name, value in self.headers) > limit:
                    self._refused = 414 if target > limit else 431
                    raise _HeadTooLarge  # uvicorn answers a callback's error with send_400_response
            HttpToolsProtocol.on_headers_complete(self)

        def send_400_response(self, msg: str) -> None:
            if self._refused:
                self._refuse(self._refused)
            else:
                HttpToolsProtocol.send_400_response(self, msg)

        def _refuse(self, status: int) -> None:
            self._refused = status
            if status == 414:
                reason, what = b"URI Too Long", "request target"
            else:
                reason, what = b"Request Header Fields Too Large", "request line and header fields"
            body = f"the {what} exceed the limit of {limit} bytes".encode()
            self.logger.warning("refused a request: its %s exceed %d bytes (%d)", what, limit, status)
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (status, reason, len(body), body)
            )
            self.transport.close()

    return LimitedHttpToolsProtocol


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket. ``IPPROTO_TCP`` is explicit on purpose: asyncio turns Nagle off
    only on sockets that say so, and without it every response waits ~40 ms for a delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def uvicorn_config(
    app: Any,
    *,
    drain_timeout: float,
    log_level: str = "warning",
    access_log: bool = False,
    max_header_bytes: int | None = None,
    head_timeout: float | None = None,
) -> Any:
    """uvicorn's configuration for ``app``. ``max_header_bytes``: the limit on a request's
    head (default: the app's ``[serve] max_header_bytes``, else 64 KiB); ``head_timeout``:
    seconds a head may take to arrive (default: the app's ``[serve] request_timeout``)."""
    import uvicorn

    state = getattr(getattr(app, "state", None), "byom", None)
    settings = getattr(state, "settings", None)
    if max_header_bytes is None:
        max_header_bytes = getattr(settings, "max_header_bytes", DEFAULT_MAX_HEADER_BYTES)
    if head_timeout is None:
        head_timeout = getattr(settings, "request_timeout", None)
    limits: dict[str, Any]
    try:
        limits = {"http": http_protocol(max_header_bytes, head_timeout)}
    except ImportError:  # no httptools: h11 has a limit of its own
        limits = {"http": "h11", "h11_max_incomplete_event_size": max_header_bytes}
    return uvicorn.Config(
        app,
        **limits,
        lifespan="on",
        log_level=log_level,
        access_log=access_log,
        # The application's logging stays as the embedding process configured it.
        log_config=None,
        # Streams in flight get this long to finish after SIGTERM (SageMaker kills at 30 s).
        timeout_graceful_shutdown=math.ceil(drain_timeout),
        timeout_keep_alive=75,
        server_header=False,
    )


def make_server(config: Any) -> Any:
    """A uvicorn server for which SIGTERM — how SageMaker, Vertex, Kubernetes and Docker
    stop a container — is a normal stop: in-flight requests drain, then the process exits 0
    (uvicorn itself re-raises the signal after draining, so the exit status would be 143)."""
    import signal
    from types import FrameType

    import uvicorn

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if sig != signal.SIGTERM:
                super().handle_exit(sig, frame)
                return
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

    return _Server(config)


class ServerThread:
    """``app`` served by uvicorn on a background thread, on ``host:port`` (0: any free
    port). ``stop()`` shuts down gracefully: in-flight streams finish (up to
    ``drain_timeout``), then the thread ends.

    ::

        with ServerThread(create_app(client, ...)) as server:
            openai.OpenAI(base_url=server.url + "/v1", api_key=KEY)
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, drain_timeout: float = 5.0) -> None:
        import uvicorn

        self.app = app
        self._socket = bind(host, port)
        self.host, self.port = self._socket.getsockname()[:2]
        self.server = uvicorn.Server(uvicorn_config(app, drain_timeout=drain_timeout))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, name="byom-serve", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the byom serve thread did not start")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, let in-flight requests finish, end the thread."""
        thread, self._thread = self._thread, None
        self.server.should_exit = True
        if thread is not None:
            thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
