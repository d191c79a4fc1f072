from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from byom_sdk import Boundary, Capabilities, ModelInfo
from byom_sdk.wire import HttpTransport, WireProvider
from byom_sdk.wire.openai import OpenAIChat, OpenAIEmbeddings

from ._servers import Handler, RawServer


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], WireProvider]]:
    servers: list[RawServer] = []
    providers: list[WireProvider] = []

    def make(handler: Handler, dimension: int | None = None) -> WireProvider:
        server = RawServer(handler)
        servers.append(server)
        info = ModelInfo(
            id="m",
            provider="t",
            capabilities=Capabilities(generate=True, chat=True, stream=True, embed=True),
            boundary=Boundary(provider="t", location_kind="process", retention="none"),
            embedding_dimension=dimension,
        )
        transport = HttpTransport(
            f"http://127.0.0.1:{server.port}/v1",
            {"generate": "/chat/completions", "embed": "/embeddings"},
            headers={},
            timeout=10.0,
            connect_timeout=2.0,
            provider="t",
        )
        provider = WireProvider(info, OpenAIChat(), transport, where="server t", embed_codec=OpenAIEmbeddings())
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.close()
    for server in servers:
        server.close()
