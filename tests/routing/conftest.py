"""Shared doubles for the routing tests: in-process providers that stand for remote
endpoints (their boundary names a cloud host the gate derives a region from; nothing
connects anywhere) and a Client factory with an in-memory audit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from byom_sdk import (
    Boundary,
    ByomError,
    Capabilities,
    Client,
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    ModelInfo,
    Provider,
    StreamEvent,
    TextDelta,
    Unavailable,
    Usage,
)
from byom_sdk.testing import isolated_registry
from byom_sdk.trust._record import calls_of

EU = {"audit": {"sink": "memory"}, "allowed_jurisdictions": ["EU"]}
ONE_ATTEMPT = {"max_attempts": 1, "deadline": 30}


class Endpoint(Provider):
    """A fake remote endpoint in ``region`` that answers at once and logs what it got.

    ``failures``: errors raised by the next calls, one per call. ``stream_fail_after``:
    a stream fails after this many events.
    """

    def __init__(self, name: str, region: str = "eu-west-1") -> None:
        self.name = name
        self.seen: list[Any] = []
        self.failures: list[ByomError] = []
        self.stream_fail_after: int | None = None
        self.move_to(region)

    def move_to(self, region: str) -> None:
        """The endpoint is now in ``region`` (as a re-verified boundary would say)."""
        self._info = ModelInfo(
            id=self.name,
            provider="fake",
            version=f"{self.name}@1",
            capabilities=Capabilities(generate=True, chat=True, stream=True, embed=True),
            boundary=Boundary(
                provider="fake",
                location_kind="customer-cloud",
                endpoint=f"https://runtime.sagemaker.{region}.amazonaws.com",
                region=region,
            ),
            embedding_dimension=3,
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    def _fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        self.seen.append(request)
        self._fail()
        text = f"{self.name}: {request.as_messages()[-1].content}"
        return GenerateResponse(
            text=text,
            finish_reason="stop",
            model=self.name,
            usage=Usage(input_tokens=1, output_tokens=1, source="server"),
        )

    def handle_stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        self.seen.append(request)
        self._fail()
        for index, piece in enumerate([f"{self.name}:", " one", " two"]):
            if self.stream_fail_after is not None and index == self.stream_fail_after:
                raise Unavailable(f"{self.name} dropped the stream", provider="fake", status_code=503)
            yield TextDelta(text=piece)
        yield FinishEvent(finish_reason="stop", usage=Usage(input_tokens=1, output_tokens=3, source="server"))

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        self.seen.append(request)
        self._fail()
        return EmbedResponse(vectors=tuple((1.0, 0.0, 0.0) for _ in request.texts), model=self.name)


def unavailable(name: str = "endpoint") -> Unavailable:
    return Unavailable(f"{name}: Service Unavailable", provider="fake", status_code=503)


@pytest.fixture
def endpoints() -> type[Endpoint]:
    return Endpoint


@pytest.fixture
def make_client():
    """``make_client(models, routes, policy=EU, retry=ONE_ATTEMPT)``; closes every client."""
    clients: list[Client] = []
    with isolated_registry() as registry:

        def build(models: dict[str, Any], routes: dict[str, Any], *, policy: Any = None, **kwargs: Any) -> Client:
            kwargs.setdefault("retry", ONE_ATTEMPT)
            client = Client(models=models, routes=routes, policy=policy or EU, registry=registry, **kwargs)
            clients.append(client)
            return client

        yield build
        for client in clients:
            client.close()


@pytest.fixture
def calls():
    """The merged audit view (one dict per call) of a Client with a memory sink."""

    def read(client: Client) -> list[dict[str, Any]]:
        return calls_of(client.trust.sink.records)  # type: ignore[attr-defined]

    return read


@pytest.fixture
def fail():
    return unavailable
