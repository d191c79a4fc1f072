"""The ``wire.*`` checks' socket capture: HTTP/1.1 requests read off this process's sockets
(plain and TLS, sync and asyncio), a server's answers left out, the socket classes restored."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from byom_sdk.testing.conformance._capture import WireCapture, parse_requests

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # the shared loopback harness of wire_shapes


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = json.dumps({"echo": body.decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_keep_alive_requests_and_a_chunked_body_are_parsed_in_order():
    data = (
        b'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{"a":1}'
        b'POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"b"\r\n3;ext=1\r\n:2}\r\n0\r\n\r\n'
        b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"
        b'POST /d HTTP/1.1\r\nContent-Length: 50\r\n\r\n{"cut'  # incomplete: left out
    )
    requests = parse_requests(data)
    assert [(r.method, r.target, r.body) for r in requests] == [
        ("POST", "/a", b'{"a":1}'),
        ("POST", "/b", b'{"b":2}'),
        ("GET", "/c", b""),
    ]
    assert requests[1].headers["transfer-encoding"] == "chunked"


def test_a_servers_answers_and_other_protocols_are_not_requests():
    assert parse_requests(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}") == []
    assert parse_requests(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00") == []
    assert parse_requests(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03") == []


def test_a_plain_request_is_captured_and_the_socket_class_restored(server):
    before = dict(vars(socket.socket))
    with WireCapture() as capture:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        connection.request("POST", "/generate", body=b'{"prompt": "caf\xc3\xa9"}', headers={"X-Tag": "t1"})
        assert json.loads(connection.getresponse().read()) == {"echo": '{"prompt": "café"}'}
        connection.close()
    assert dict(vars(socket.socket)) == before  # nothing left patched
    [request] = capture.requests()  # the server's answer, sent from this process too, is not one
    assert (request.method, request.target, request.headers["x-tag"]) == ("POST", "/generate", "t1")
    assert json.loads(request.body) == {"prompt": "café"}


def test_nested_captures_each_see_their_own_window(server):
    port = server.server_address[1]

    def post(body: bytes) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("POST", "/", body=body)
        connection.getresponse().read()
        connection.close()

    with WireCapture() as outer:
        post(b"one")
        with WireCapture() as inner:
            post(b"two")
        post(b"three")
    assert [r.body for r in outer.requests()] == [b"one", b"two", b"three"]
    assert [r.body for r in inner.requests()] == [b"two"]
    assert "sendall" not in vars(socket.socket)


def test_asyncio_streams_are_captured(server):
    async def post() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.server_address[1])
        writer.write(b"POST /async HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n")
        writer.writelines([b"{", b"}"])
        await writer.drain()
        answer = await reader.readuntil(b"}")
        writer.close()
        await writer.wait_closed()
        return answer

    with WireCapture() as capture:
        asyncio.run(post())
    [request] = capture.requests()
    assert (request.target, request.body) == ("/async", b"{}")


@pytest.fixture
def tls_client(server: ThreadingHTTPServer, tmp_path: Path) -> ssl.SSLContext:
    """``server`` made to speak TLS with a fresh self-signed certificate; the client context
    that trusts it."""
    pytest.importorskip("cryptography", reason="cryptography builds the test certificate")
    from wire_shapes._harness import self_signed_certificate

    cert_pem, key_pem = self_signed_certificate()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return ssl.create_default_context(cadata=cert_pem.decode())


def test_a_tls_request_is_read_before_encryption(server, tls_client):
    client = tls_client
    with WireCapture() as capture:
        connection = http.client.HTTPSConnection("127.0.0.1", server.server_address[1], timeout=5, context=client)
        connection.request("POST", "/secure", body=b'{"secret": 1}')
        assert connection.getresponse().status == 200
        connection.close()
    [request] = capture.requests()
    assert (request.target, request.body) == ("/secure", b'{"secret": 1}')
    assert "send" not in vars(ssl.SSLSocket) or vars(ssl.SSLSocket)["send"].__module__ == "ssl"


def test_an_asyncio_tls_request_is_read_before_encryption(server, tls_client):
    """asyncio (and httpx's async client) encrypt through an SSLObject over memory buffers."""
    client = tls_client

    async def post() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.server_address[1], ssl=client)
        writer.write(b'POST /tls HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{"n": 42}')
        await writer.drain()
        await reader.readuntil(b"}")
        writer.close()
        await writer.wait_closed()

    with WireCapture() as capture:
        asyncio.run(post())
    [request] = capture.requests()
    assert (request.target, request.body) == ("/tls", b'{"n": 42}')


def test_a_compressed_body_is_read_as_sent_before_compression():
    import gzip
    import zlib

    body = b'{"prompt": "hello"}'
    for encoding, packed in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        data = b"POST / HTTP/1.1\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (
            encoding.encode(),
            len(packed),
        )
        [request] = parse_requests(data + packed)
        assert request.body == body, encoding
