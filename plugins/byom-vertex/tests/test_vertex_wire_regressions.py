"""Wire regressions the shared layer fixed for Vertex over REST: the call's timeout bounds a
whole stream (requests' timeout bounds each read only), and a stream is read to its end so
its connection is reused instead of dropped."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from byom_vertex import VertexConfig, VertexModel

from byom_sdk import TextDelta, Timeout


class _Trickle(BaseHTTPRequestHandler):
    """``:streamRawPredict`` answering OpenAI chunks, one every ``gap`` seconds."""

    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable

    def log_message(self, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server: Any = self.server
        server.peers.add(self.client_address)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index in range(server.chunks):
            record = {"choices": [{"index": 0, "delta": {"content": f"t{index} "}, "finish_reason": None}]}
            self._chunk(b"data: " + json.dumps(record).encode() + b"\n\n")
            time.sleep(server.gap)
        self._chunk(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError:
            pass


@pytest.fixture
def trickle() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    server.peers = set()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _model(server: Any, **extra: Any) -> VertexModel:
    return VertexModel(
        VertexConfig(
            project="p",
            location="europe-west4",
            endpoint_id="1",
            transport="rest",
            codec="openai",
            api_endpoint=f"http://127.0.0.1:{server.server_address[1]}",
            insecure=True,
            credentials={"kind": "anonymous"},
            **extra,
        )
    )


def test_the_timeout_bounds_the_whole_rest_stream(trickle):
    trickle.chunks, trickle.gap = 100, 0.3  # 30 s of pieces, each well inside the read timeout
    with _model(trickle, timeout=1.0) as model:
        model.transport._http_client()  # build the HTTP session (and import google.auth) first
        seen = []
        started = time.perf_counter()
        with pytest.raises(Timeout):
            for event in model.stream([{"role": "user", "content": "hi"}]):
                seen.append(event)
        elapsed = time.perf_counter() - started
    # Before the fix the stream ran its full 30 s: each 0.3 s read was inside the timeout.
    assert 0.8 < elapsed < 2.5, elapsed
    assert 1 <= len(seen) <= 5 and all(isinstance(e, TextDelta) for e in seen)


def test_rest_streams_reuse_their_connection(trickle):
    trickle.chunks, trickle.gap = 2, 0.0
    with _model(trickle) as model:
        for _ in range(3):
            events = list(model.stream([{"role": "user", "content": "hi"}]))
            assert events[-1].finish_reason == "stop"
    assert len(trickle.peers) == 1, trickle.peers
