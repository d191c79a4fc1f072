"""``SageMakerModel``: a SageMaker real-time endpoint — a codec over the SageMaker transport.

The protocol (bodies, stream records, stop trimming, usage, finish reasons) is the shared
wire layer's (:mod:`byom_sdk.wire`); this module builds the boto3 client, pins it to the
gated destination, and declares what the endpoint can do and where its data goes.

The provider is sync only: boto3 is a sync client. Async callers are served by the
Client's bounded executor (64 threads by default), which measured at the ideal rate for
64 concurrent calls (bench/async_concurrency.py); aiobotocore would pin botocore to an
older release than boto3 needs. One boto3 client per model, shared by every thread
(botocore clients are thread-safe).

Importing this module imports boto3: the plugin's entry-point module imports it only
inside the provider factory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from byom_sdk import Boundary, Capabilities, ConfigError, ModelInfo
from byom_sdk.trust.residency import redact_url
from byom_sdk.wire import Codec, WireProvider

from ._boundary import client_boundary, install_send_guard, verify
from ._codecs import load_codec
from ._config import SageMakerConfig
from ._errors import map_error
from ._session import build_session, client_config, trim_per_call_handlers
from ._transport import SageMakerTransport, install_call_timeouts

if TYPE_CHECKING:
    import boto3

__all__ = ["SageMakerModel"]

PROVIDER = "sagemaker"


def _header_params(config: SageMakerConfig, codec: Codec) -> tuple[dict[str, Any], dict[str, Any]]:
    common: dict[str, Any] = {"EndpointName": config.endpoint_name, "ContentType": codec.content_type}
    attributes = ";".join(a for a in (config.custom_attributes, codec.custom_attributes()) if a)
    if attributes:
        common["CustomAttributes"] = attributes
    if config.inference_component:
        common["InferenceComponentName"] = config.inference_component
    if config.target_variant:
        common["TargetVariant"] = config.target_variant
    if config.session_id:
        common["SessionId"] = config.session_id
    invoke = {**common, "Accept": codec.accept}
    if config.target_model:
        invoke["TargetModel"] = config.target_model
    stream = dict(common)
    if codec.stream_accept:
        stream["Accept"] = codec.stream_accept
    # botocore's parameter validation is off (the transport builds these), so a codec's
    # header values are checked here: a non-string would be dropped or sent as is.
    for params in (invoke, stream):
        for name, value in params.items():
            if not isinstance(value, str) or not value:
                raise ConfigError(
                    f"codec {type(codec).__name__} gives {name} = {value!r}: a non-empty string is required",
                    field="codec",
                )
    return invoke, stream


class SageMakerModel(WireProvider):
    """A SageMaker real-time endpoint.

    :param config: the validated endpoint config.
    :param codec: a codec instance (default: the one ``config.codec`` names).
    :param session: a ``boto3.Session`` to build clients from (default: from
        ``config.credentials``).
    """

    def __init__(
        self, config: SageMakerConfig, *, codec: Codec | None = None, session: boto3.Session | None = None
    ) -> None:
        self.config = config
        codec = codec or load_codec(config)
        where = f"SageMaker endpoint '{config.endpoint_name}' ({config.region})"
        self._session = session or build_session(config)
        try:
            client = self._session.client(
                "sagemaker-runtime", endpoint_url=config.endpoint_url, config=client_config(config)
            )
        except ValueError as exc:  # botocore's "Invalid endpoint: ..." for a configured URL
            source = (
                "endpoint_url"
                if config.endpoint_url
                else "the endpoint URL configured outside byom.toml (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, "
                "AWS_ENDPOINT_URL or the AWS config file's endpoint_url)"
            )
            raise ConfigError(
                f"{where}: {source} is not a valid endpoint URL ({redact_url(str(exc).split(': ', 1)[-1])!r})",
                field="endpoint_url" if config.endpoint_url else None,
            ) from None
        trim_per_call_handlers(client)
        self.per_call_timeouts = install_call_timeouts(client, config.connect_timeout, config.read_timeout)
        self._declared = client_boundary(config, client)
        # Every request must leave for the host the gate saw, signed for the region it saw.
        install_send_guard(client, self._declared.endpoint or "", signing_region=client.meta.region_name)
        params, stream_params = _header_params(config, codec)
        transport = SageMakerTransport(
            client,
            params=params,
            stream_params=stream_params,
            where=where,
            not_ready_retry_after=config.not_ready_retry_after,
        )
        info = ModelInfo(
            id=config.model_id or config.endpoint_name,
            provider=PROVIDER,
            capabilities=Capabilities(
                generate=codec.generates,
                chat=codec.chat,
                stream=codec.generates and codec.streams and config.stream and config.target_model is None,
                embed=codec.embeds,
                tools=codec.tools and codec.chat,
                tools_mode=codec.tools_mode,
                structured_output=codec.structured_output,
                async_native=False,
                stop_sequences=codec.stop_sequences,
                seed=codec.seed,
                max_context=config.max_context,
                max_output_tokens=config.max_output_tokens,
            ),
            boundary=self._declared,
            embedding_dimension=config.embedding_dimension,
            description=f"SageMaker endpoint {config.endpoint_name} ({codec.name} codec)",
            # The version every request names (InferenceComponentName / TargetVariant).
            version=config.inference_component or config.target_variant,
        )
        super().__init__(info, codec, transport, where=where)
        if config.verify_boundary:
            try:
                self.verify_boundary()
            except BaseException:
                client.close()
                raise

    @classmethod
    def from_config(cls, config: SageMakerConfig) -> SageMakerModel:
        """The provider factory registered for ``provider = "sagemaker"``."""
        return cls(config)

    @property
    def client(self) -> Any:
        """The boto3 ``sagemaker-runtime`` client this model uses."""
        transport: SageMakerTransport = self.transport  # type: ignore[assignment]  # built in __init__
        return transport.client

    def verify_boundary(self) -> Boundary:
        """Read the endpoint back from the SageMaker control plane and record attestations.

        Updates ``info.boundary`` (read by the trust gate on every call) and returns it.
        Control-plane failures are mapped like runtime ones (an ``AuthError`` when the role
        may not describe the endpoint).
        """
        from botocore.config import Config

        config = self.config
        control = self._session.client(
            "sagemaker",
            endpoint_url=config.control_plane_endpoint_url,
            config=Config(
                region_name=config.region,
                connect_timeout=config.connect_timeout,
                read_timeout=30,
                retries={"total_max_attempts": 3, "mode": "standard"},
            ),
        )
        try:
            boundary = verify(config, control, self._declared)
        except Exception as exc:  # control-plane failures are mapped, never leaked
            raise map_error(exc, where=f"{self.where} boundary check") from exc
        finally:
            control.close()
        self._info = self._info.model_copy(update={"boundary": boundary})
        return boundary
