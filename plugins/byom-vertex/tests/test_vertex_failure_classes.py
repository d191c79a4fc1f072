"""REST failure classes that google-api-core does not read by itself: a 429's RetryInfo
(JSON) and ``Retry-After`` become ``retry_after``; an error body that is JSON but not
Google's shape keeps the class its status gives (a 503 stays retryable); config values
that go into the resource path and the ``x-goog-request-params`` header must be plain."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from byom_vertex import VertexConfig, VertexModel

from byom_sdk import BadRequest, Throttled, Unavailable

Script = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.calls.append(self.path)  # type: ignore[attr-defined]
        status, body, headers = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def proxy() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.calls = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _config(proxy: Any, **extra: Any) -> dict[str, Any]:
    return {
        "project": "p",
        "location": "europe-west4",
        "endpoint_id": "1",
        "transport": "rest",
        "api_endpoint": f"http://127.0.0.1:{proxy.server_address[1]}",
        "insecure": True,
        "credentials": {"kind": "anonymous"},
        **extra,
    }


def _quota(details: list[dict[str, Any]]) -> bytes:
    error = {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded", "details": details}
    return json.dumps({"error": error}).encode()


RETRY_INFO = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.500s"}


@pytest.mark.parametrize("codec", ["vllm", "openai"])  # GAPIC REST predict, and the raw HTTP path
@pytest.mark.parametrize(
    ("body", "headers"),
    [(_quota([RETRY_INFO]), {}), (_quota([]), {"Retry-After": "1.5"})],
    ids=["retry-info", "retry-after"],
)
def test_a_rest_429_carries_the_servers_backoff(proxy, codec, body, headers):
    proxy.answer = (429, body, headers)
    with VertexModel(VertexConfig(**_config(proxy, codec=codec))) as model, pytest.raises(Throttled) as info:
        model.generate("hi")
    assert info.value.retry_after == 1.5 and info.value.retryable


@pytest.mark.parametrize("body", [b'[{"error": "overloaded"}]', b'{"error": null}', b'{"error": {"details": ["x"]}}'])
def test_an_error_body_google_api_core_cannot_read_keeps_its_status(proxy, body):
    proxy.answer = (503, body, {})
    with VertexModel(VertexConfig(**_config(proxy))) as model, pytest.raises(Unavailable) as info:
        model.generate("hi")
    assert info.value.status_code == 503 and info.value.retryable
    assert "projects/p/locations/europe-west4/endpoints/1" in str(info.value)


def test_a_400_list_body_is_a_bad_request(proxy):
    proxy.answer = (400, b'[{"error": "bad instance"}]', {})
    with VertexModel(VertexConfig(**_config(proxy))) as model, pytest.raises(BadRequest) as info:
        model.generate("hi")
    assert info.value.status_code == 400 and not info.value.retryable


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project", "p\nq"),
        ("project", "my project"),
        ("endpoint_id", "1\n"),
        ("endpoint_id", "é"),
        ("location", "europe-west4\n"),
    ],
)
def test_config_values_sent_in_the_path_or_a_header_must_be_plain(proxy, field, value):
    with pytest.raises(ValueError, match=field):
        VertexConfig(**_config(proxy, **{field: value}))


@pytest.mark.parametrize("project", ["acme-ml", "123456789012", "example.com:acme-ml"])
def test_real_project_forms_are_accepted(proxy, project):
    assert VertexConfig(**_config(proxy, project=project)).project == project
