"""Building the GAPIC clients and converting between JSON-like Python values and the
PredictionService protos. Imported on first use only: it pulls in google.* and grpc.

Requests are built on the raw protobuf messages and wrapped once, rather than through
proto-plus field marshalling, because the marshalling of ``repeated Value`` costs more
than the whole rest of a call's Python overhead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from byom_sdk import AuthError, ConfigError, ProviderError

from ._config import VertexConfig

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

__all__ = [
    "async_client",
    "credentials_for",
    "predict_request",
    "raw_body",
    "raw_request",
    "streaming_request",
    "sync_client",
    "to_python",
]

from google.api import httpbody_pb2
from google.cloud.aiplatform_v1.types import prediction_service as ps
from google.protobuf import json_format, struct_pb2

_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
_PredictRequestPb = ps.PredictRequest.pb()
_RawPredictRequestPb = ps.RawPredictRequest.pb()
_StreamRawPredictRequestPb = ps.StreamRawPredictRequest.pb()
_StreamingPredictRequestPb = ps.StreamingPredictRequest.pb()


def credentials_for(config: VertexConfig) -> Credentials:
    """The google.auth credentials object for ``config``. Clients refresh it themselves
    before a token expires; no token is ever read out and baked into a header here."""
    spec = config.credentials
    if spec.kind == "anonymous":
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    if spec.kind == "service-account":
        from google.oauth2 import service_account

        try:
            creds = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                str(spec.file), scopes=list(spec.scopes)
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read service-account key '{spec.file}': {exc}", field="credentials.file"
            ) from exc
        return cast("Credentials", creds.with_quota_project(spec.quota_project) if spec.quota_project else creds)
    import google.auth
    from google.auth import exceptions as aexc

    try:
        creds, _ = google.auth.default(scopes=list(spec.scopes), quota_project_id=spec.quota_project)
    except aexc.DefaultCredentialsError as exc:
        raise AuthError(
            f"vertex endpoint {config.resource}: no Application Default Credentials ({exc}); run "
            "'gcloud auth application-default login', set GOOGLE_APPLICATION_CREDENTIALS, or set "
            "credentials.kind",
            provider="vertex",
            code="DefaultCredentialsError",
        ) from exc
    return creds


def _rest_host(config: VertexConfig) -> str:
    host = config.host
    if config.insecure and "://" not in host:
        host = f"http://{host}"
    return host


def sync_client(config: VertexConfig, credentials: Credentials | None, channel: Any = None) -> Any:
    """A ``PredictionServiceClient`` for ``config`` (``channel``: an injected gRPC channel)."""
    from google.cloud.aiplatform_v1.services.prediction_service import PredictionServiceClient

    if config.transport == "rest":
        from ._http import read_container_errors, refuse_redirects

        client = PredictionServiceClient(
            credentials=credentials, transport="rest", client_options={"api_endpoint": _rest_host(config)}
        )
        session = getattr(client._transport, "_session", None)
        if session is None:  # pragma: no cover - depends on the library's layout
            raise ProviderError(
                "google-cloud-aiplatform's REST transport has no session to pin redirects on: use transport = 'grpc'",
                provider="vertex",
            )
        refuse_redirects(session, f"vertex endpoint {config.resource}")
        read_container_errors(session)
        return client
    from google.cloud.aiplatform_v1.services.prediction_service.transports.grpc import PredictionServiceGrpcTransport

    if channel is None and config.insecure:
        import grpc

        channel = grpc.insecure_channel(config.host, options=_CHANNEL_OPTIONS)
    if channel is not None:
        return PredictionServiceClient(transport=PredictionServiceGrpcTransport(channel=channel))
    return PredictionServiceClient(credentials=credentials, client_options={"api_endpoint": config.host})


def async_client(config: VertexConfig, credentials: Credentials | None, channel: Any = None) -> Any:
    """A ``PredictionServiceAsyncClient`` (gRPC asyncio) bound to the running event loop."""
    from google.cloud.aiplatform_v1.services.prediction_service import PredictionServiceAsyncClient
    from google.cloud.aiplatform_v1.services.prediction_service.transports.grpc_asyncio import (
        PredictionServiceGrpcAsyncIOTransport,
    )

    if channel is None and config.insecure:
        from grpc import aio

        channel = aio.insecure_channel(config.host, options=_CHANNEL_OPTIONS)
    if channel is not None:
        return PredictionServiceAsyncClient(transport=PredictionServiceGrpcAsyncIOTransport(channel=channel))
    from google.api_core.client_options import ClientOptions

    return PredictionServiceAsyncClient(credentials=credentials, client_options=ClientOptions(api_endpoint=config.host))


# -- conversions --------------------------------------------------------------------------------


def to_python(value: Any) -> Any:
    """A ``google.protobuf.Value`` as plain Python (faster than json_format)."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return {k: to_python(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [to_python(v) for v in value.list_value.values]
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "bool_value":
        return value.bool_value
    return None


def predict_request(endpoint: str, body: dict[str, Any]) -> Any:
    """A ``PredictRequest`` from ``{"instances": [...], "parameters": ...}``."""
    pb = _PredictRequestPb(endpoint=endpoint)
    add = pb.instances.add
    for instance in body.get("instances", ()):
        _fill(add(), instance)
    if body.get("parameters") is not None:
        _fill(pb.parameters, body["parameters"])
    return ps.PredictRequest.wrap(pb)


def _fill(target: Any, value: Any) -> None:
    if isinstance(value, dict):
        target.struct_value.update(value)
    elif isinstance(value, (list, tuple)):
        target.list_value.extend(value)
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, (int, float)):
        target.number_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif value is None:
        target.null_value = struct_pb2.NULL_VALUE
    else:
        raise TypeError(f"cannot send {type(value).__name__} in a predict instance")


def predictions(response: Any) -> dict[str, Any]:
    """A ``PredictResponse`` as ``{"predictions": [...]}`` of plain Python values."""
    return {"predictions": [to_python(v) for v in response._pb.predictions]}


def raw_body(body: dict[str, Any], content_type: str) -> Any:
    return httpbody_pb2.HttpBody(content_type=content_type, data=json.dumps(body).encode())


def raw_request(endpoint: str, body: dict[str, Any], content_type: str) -> Any:
    pb = _RawPredictRequestPb(endpoint=endpoint, http_body=raw_body(body, content_type))
    return ps.RawPredictRequest.wrap(pb)


def stream_raw_request(endpoint: str, body: dict[str, Any], content_type: str) -> Any:
    pb = _StreamRawPredictRequestPb(endpoint=endpoint, http_body=raw_body(body, content_type))
    return ps.StreamRawPredictRequest.wrap(pb)


def streaming_request(endpoint: str, body: dict[str, Any]) -> Any:
    """A ``StreamingPredictRequest`` from ``{"inputs": [Tensor], "parameters": Tensor}`` JSON."""
    pb = _StreamingPredictRequestPb()
    json_format.ParseDict(body, pb)
    pb.endpoint = endpoint
    return ps.StreamingPredictRequest.wrap(pb)


def streaming_outputs(response: Any) -> dict[str, Any]:
    return cast("dict[str, Any]", json_format.MessageToDict(response._pb))
