"""A success status with a body the client library cannot read (not UTF-8, not JSON) is the
container failing — a ModelError, as SageMaker and the HTTP plugins report it — never a
ProviderError wrapping a UnicodeDecodeError."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

import byom_sdk

BODY = b"\xff\xfenot json!!"


@pytest.fixture
def garbage_port() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                    conn.sendall(head % len(BODY) + BODY)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


@pytest.mark.parametrize("operation", ["generate", "agenerate"])
def test_a_200_answer_that_is_not_json_is_a_model_error(garbage_port, operation):
    config = {
        "provider": "vertex",
        "project": "p",
        "location": "europe-west4",
        "endpoint_id": "123",
        "api_endpoint": f"127.0.0.1:{garbage_port}",
        "insecure": True,
        "transport": "rest",
        "timeout": 5,
        "credentials": {"kind": "anonymous"},
    }
    policy = {"allow_loopback": True, "audit": {"sink": "memory"}}
    with byom_sdk.Client(models={"vx": config}, policy=policy, retry={"max_attempts": 1}) as client:
        model = client.model("vx")
        with pytest.raises(byom_sdk.ModelError, match="not JSON") as info:
            if operation == "generate":
                model.generate("hi")
            else:
                asyncio.run(model.agenerate("hi"))
    assert info.value.code == "DecodeError" and info.value.provider == "vertex"
