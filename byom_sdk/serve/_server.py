"""Running the app on uvicorn: in the foreground (``byom serve``) or on a background thread
(tests, examples, embedding in a process that has other work)."""

from __future__ import annotations

import math
import socket
import threading
import time
from types import TracebackType
from typing import Any

__all__ = ["ServerThread", "bind", "make_server", "uvicorn_config"]


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


def uvicorn_config(app: Any, *, drain_timeout: float, log_level: str = "warning", access_log: bool = False) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
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
