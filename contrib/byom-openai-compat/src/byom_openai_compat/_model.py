"""``OpenAICompatModel``: an OpenAI-compatible HTTP server, as a codec over HTTP.

The protocol (bodies, SSE chunks, tool-call fragments, usage, finish reasons) is
``byom_sdk.wire.openai``; the transport (httpx, sync and async, one error mapping) is
``byom_sdk.wire.HttpTransport``. What is left here is the config: routes, auth, the
capabilities the server declares, and the boundary its host implies.
"""

from __future__ import annotations

from byom_sdk import Capabilities, ModelInfo
from byom_sdk.trust.residency import redact_url
from byom_sdk.wire import HttpTransport, WireProvider
from byom_sdk.wire.openai import OpenAIChat, OpenAICompletions, OpenAIEmbeddings

from ._boundary import destination_boundary
from ._config import PROVIDER, OpenAICompatConfig

__all__ = ["OpenAICompatModel"]


class OpenAICompatModel(WireProvider):
    """A model served by an OpenAI-compatible HTTP server.

    :param config: the validated provider config.
    """

    def __init__(self, config: OpenAICompatConfig) -> None:
        self.config = config
        headers = {name: value.get_secret_value() for name, value in config.headers.items()}
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        chat = config.api == "chat"
        codec = (OpenAIChat if chat else OpenAICompletions)(model=config.model, include_usage=config.stream_usage)
        # The transport appends a route to its base URL: a query (``?api-version=``) must
        # follow the route, not precede it.
        routes = {
            "generate": ("/chat/completions" if chat else "/completions") + config.query,
            "embed": "/embeddings" + config.query,
        }
        transport = HttpTransport(
            config.root,
            routes,
            headers=headers,
            timeout=config.timeout,
            connect_timeout=config.connect_timeout,
            provider=PROVIDER,
        )
        # Userinfo and query values may be credentials: the description and error messages
        # show the URL redacted.
        shown = redact_url(config.base_url)
        info = ModelInfo(
            id=config.model,
            provider=PROVIDER,
            capabilities=Capabilities(
                generate=config.generate,
                chat=config.generate and chat,
                stream=config.generate and config.stream,
                embed=config.embedding_dimension is not None,
                tools=config.generate and config.tools and chat,
                tools_mode="native" if config.generate and config.tools and chat else None,
                structured_output="native" if chat and config.structured_output else None,
                async_native=True,
                seed=True,
                max_context=config.max_context,
            ),
            boundary=destination_boundary(config),
            embedding_dimension=config.embedding_dimension,
            embedding_normalized=config.embedding_normalized,
            description=f"OpenAI-compatible server at {shown}",
            version=config.model,  # the served model name each request's body names
        )
        super().__init__(
            info,
            codec,
            transport,
            where=f"OpenAI-compatible server {shown}",
            embed_codec=OpenAIEmbeddings(model=config.embedding_model or config.model),
        )
