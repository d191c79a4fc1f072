"""``VertexModel``: a Vertex AI endpoint — a codec over the PredictionService transport.

The protocol is the shared wire layer's (:mod:`byom_sdk.wire.vertex`); the transport
(:mod:`byom_vertex._transport`) speaks gRPC or REST through the GAPIC clients. Over gRPC the
model is natively async (``grpc.aio``, one channel per event loop, closed by ``aclose``);
over REST it is sync and async callers are served by the Client's executor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from byom_sdk import Boundary, Capabilities, ConfigError, ModelInfo, ProviderError
from byom_sdk.wire import WireProvider
from byom_sdk.wire.vertex import VertexCodec

from ._boundary import base_boundary, read_endpoint, verified_boundary
from ._codecs import load_codec
from ._config import VertexConfig
from ._errors import map_exception
from ._transport import VertexGrpcTransport, VertexTransport

__all__ = ["VertexModel"]


class VertexModel(WireProvider):
    """A model served by a Vertex AI endpoint.

    :param config: the validated :class:`VertexConfig`.
    :param codec: a codec instance overriding ``config.codec``.
    :param channel: a ready gRPC channel for the sync client (tests, custom TLS setups).
    :param async_channel_factory: makes a ``grpc.aio`` channel for the async client; called
        once per event loop.
    :param credentials: a google.auth credentials object overriding ``config.credentials``.
    """

    def __init__(
        self,
        config: VertexConfig,
        *,
        codec: VertexCodec | None = None,
        channel: Any = None,
        async_channel_factory: Callable[[], Any] | None = None,
        credentials: Any = None,
    ) -> None:
        self.config = config
        try:
            codec = codec or load_codec(config.codec, config.codec_options)
        except ConfigError as exc:
            raise exc.within() from exc.__cause__
        transport: VertexTransport
        if config.transport == "grpc":
            transport = VertexGrpcTransport(
                config, codec, channel=channel, credentials=credentials, async_channel_factory=async_channel_factory
            )
        else:
            transport = VertexTransport(config, codec, channel=channel, credentials=credentials)
        self.endpoint = config.resource
        boundary = base_boundary(config)
        info = ModelInfo(
            id=config.model_id or f"vertex/{config.endpoint_id}",
            provider="vertex",
            capabilities=Capabilities(
                generate=codec.generate_rpc is not None and codec.generates,
                chat=codec.generate_rpc is not None and codec.chat,
                stream=codec.stream_rpc is not None and codec.streams,
                embed=codec.embed_rpc is not None and codec.embeds,
                tools=codec.tools,
                tools_mode=codec.tools_mode,
                structured_output=codec.structured_output,
                async_native=config.transport == "grpc",
                seed=codec.seed,
                max_context=config.max_context,
            ),
            boundary=boundary,
            embedding_dimension=config.embedding_dimension,
            description=f"Vertex AI endpoint {config.resource} ({codec.name} codec, {config.transport})",
            version=config.deployed_model_id,
        )
        super().__init__(info, codec, transport, where=f"vertex endpoint {config.resource}")
        if config.verify_boundary:
            self.verify_boundary()

    @classmethod
    def from_config(cls, config: VertexConfig) -> VertexModel:
        """The provider factory registered for ``provider = "vertex"``."""
        return cls(config)

    def verify_boundary(self) -> Boundary:
        """Read the Endpoint resource back (EndpointService.GetEndpoint) and record what it
        says as attestations; later calls are gated on the verified boundary."""
        transport: VertexTransport = self.transport  # type: ignore[assignment]  # built in __init__
        creds = transport.credentials() if transport.needs_credentials() else None
        try:
            endpoint = read_endpoint(self.config, creds, getattr(transport, "_channel", None))
        except ProviderError:
            raise
        except Exception as exc:
            raise map_exception(exc, endpoint=self.endpoint, operation="GetEndpoint (verify_boundary)") from exc
        boundary = verified_boundary(self.config, endpoint)
        self._info = self._info.model_copy(update={"boundary": boundary})
        return boundary
