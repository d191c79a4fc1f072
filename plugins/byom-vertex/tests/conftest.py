"""Shared fixtures: local Vertex servers per codec, and a guard that fails any Python-level
connection to a non-loopback address (the gRPC C core is covered by the server's log:
every call a test makes must show up there, from 127.0.0.1)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest
from byom_vertex.testing import LocalVertexServer

pytest_plugins = ["byom_sdk.testing.plugin"]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _loopback(host: object) -> bool:
    if host in ("localhost", None):
        return True
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return False


def _guard(address: object) -> None:
    if isinstance(address, tuple) and not _loopback(address[0]):
        raise AssertionError(f"test tried to reach {address!r}: only 127.0.0.1 is allowed")


@pytest.fixture(autouse=True)
def _audit_in_tmp(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients with the default policy write ``byom-audit.sqlite`` to the working directory."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def connect(self: socket.socket, address: object) -> None:
        _guard(address)
        return _real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        _guard(address)
        return _real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if not _loopback(host):
            raise AssertionError(f"test tried to resolve {host!r}: only 127.0.0.1 is allowed")
        return _real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _server(codec: str) -> Iterator[LocalVertexServer]:
    with LocalVertexServer(codec=codec) as server:
        yield server


@pytest.fixture(scope="module")
def vllm_server() -> Iterator[LocalVertexServer]:
    yield from _server("vllm")


@pytest.fixture
def server(vllm_server: LocalVertexServer) -> Iterator[LocalVertexServer]:
    """The module's vLLM server with a clean log and no pending faults."""
    vllm_server.clear()
    yield vllm_server
    vllm_server.clear()


@pytest.fixture
def loopback_peers():
    """Checks that every logged request came from 127.0.0.1."""

    def check(server: LocalVertexServer) -> None:
        peers = {r.peer for r in server.requests}
        assert peers, "no request reached the local server"
        for peer in peers:
            assert "127.0.0.1" in peer, peer

    return check
