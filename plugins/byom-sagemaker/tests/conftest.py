"""Fixtures: a local SageMaker server with SigV4 checks on, and models/clients pointed at it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import byom_sagemaker._plugin as sagemaker_plugin
import pytest
from byom_sagemaker import SageMakerConfig, SageMakerModel
from byom_sagemaker.testing import LocalSageMakerServer

from byom_sdk import Client
from byom_sdk.testing import isolated_registry

pytest_plugins = ["byom_sdk.testing.plugin"]

ACCESS_KEY = "AKIDBYOMTEST"
SECRET_KEY = "byom-test-secret"
#: retries fast enough for tests; jitter off so backoffs are deterministic.
FAST_RETRY = {"max_attempts": 3, "initial_backoff": 0.001, "max_backoff": 0.05, "jitter": False}


_real_connect = socket.socket.connect


def _loopback_only(sock: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise AssertionError(f"test tried to connect to {address!r}: only 127.0.0.1 is allowed")
    return _real_connect(sock, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection to a non-loopback address (nothing may leave 127.0.0.1)."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def server() -> Iterator[LocalSageMakerServer]:
    with LocalSageMakerServer(region="eu-west-1", credentials={ACCESS_KEY: SECRET_KEY}) as srv:
        yield srv
    # Every request any test made went to this loopback server and was signed correctly.
    for request in srv.requests:
        assert request.client == "127.0.0.1"
    # Only sockets torn down by a client that gave up (read timeouts) may fail in the server.
    assert all(isinstance(error, OSError) for error in srv.errors), srv.errors


@pytest.fixture
def make_model(server: LocalSageMakerServer) -> Iterator[Any]:
    built: list[SageMakerModel] = []

    def make(endpoint: str, **overrides: Any) -> SageMakerModel:
        config = server.model_config(endpoint, **overrides)
        config.pop("provider")
        model = SageMakerModel(SageMakerConfig(**config))
        built.append(model)
        return model

    yield make
    for model in built:
        model.close()


@pytest.fixture
def make_client(server: LocalSageMakerServer) -> Iterator[Any]:
    clients: list[Client] = []
    with isolated_registry(sagemaker_plugin):

        def make(models: dict[str, dict[str, Any]], **kwargs: Any) -> Client:
            kwargs.setdefault("retry", FAST_RETRY)
            kwargs.setdefault("policy", {"allow_loopback": True})  # the local server is on 127.0.0.1
            client = Client(models=models, **kwargs)
            clients.append(client)
            return client

        yield make
        for client in clients:
            client.close()


@pytest.fixture(autouse=True)
def _audit_in_tmp(tmp_path, monkeypatch):
    """Clients with the default policy write byom-audit.sqlite to the working directory."""
    monkeypatch.chdir(tmp_path)
