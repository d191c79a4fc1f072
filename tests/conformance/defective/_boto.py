"""A correct plugin-API-2 provider over botocore's real ``sagemaker-runtime`` client.

It calls ``InvokeEndpoint`` on the local :mod:`._server` (SigV4-signed, botocore's own
retries off), honours ``request.timeout`` with one client per read timeout, and maps
``ClientError``, ``ReadTimeoutError`` and connection errors onto the core errors. Sync
only: the core serves async callers from worker threads.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from byom_sdk import (
    AuthError,
    BadRequest,
    Boundary,
    Capabilities,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    ModelError,
    ModelInfo,
    Provider,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
    Usage,
)
from byom_sdk.testing import WhitespaceTokenizer

if TYPE_CHECKING:
    from botocore.exceptions import BotoCoreError, ClientError

NAME = "echo-sagemaker"
# botocore is imported on first use, as a plugin's module must (conformance isolation.import).
_SESSIONS: list[Any] = []
# botocore sessions are not thread-safe; clients are (one per read timeout, made lazily).
_SESSION_LOCK = threading.Lock()
_AUTH_CODES = {"UnrecognizedClientException", "AccessDeniedException", "InvalidSignatureException", "ExpiredToken"}


def make_client(endpoint_url: str, read_timeout: float) -> Any:
    import botocore.session
    from botocore.config import Config

    config = Config(read_timeout=read_timeout, connect_timeout=2, retries={"total_max_attempts": 1})
    with _SESSION_LOCK:
        if not _SESSIONS:
            _SESSIONS.append(botocore.session.get_session())
        return _SESSIONS[0].create_client(
            "sagemaker-runtime",
            region_name="eu-west-1",
            endpoint_url=endpoint_url,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=config,
        )


def map_client_error(exc: ClientError) -> ProviderError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    meta = exc.response.get("ResponseMetadata", {})
    status = meta.get("HTTPStatusCode")
    message = f"{NAME}: {code}: {error.get('Message', '')}"
    kwargs: dict[str, Any] = {"provider": NAME, "status_code": status, "code": code}
    if code in ("ThrottlingException", "TooManyRequestsException"):
        hint = meta.get("HTTPHeaders", {}).get("retry-after")
        return Throttled(message, retry_after=float(hint) if hint else None, **kwargs)
    if code in _AUTH_CODES:
        return AuthError(message, **kwargs)
    if code == "ModelError":
        return ModelError(message, **kwargs)
    if code == "ValidationError":
        return BadRequest(message, **kwargs)
    if code in ("ServiceUnavailable", "InternalFailure", "ModelNotReadyException"):
        return Unavailable(message, **kwargs)
    return ProviderError(message, **kwargs)


def map_botocore(exc: BotoCoreError) -> ProviderError:
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

    if isinstance(exc, ReadTimeoutError):
        return Timeout(f"{NAME}: {exc}", provider=NAME, request_sent=True)
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return Unavailable(f"{NAME}: {exc}", provider=NAME)
    return ProviderError(f"{NAME}: {type(exc).__name__}: {exc}", provider=NAME)


class EchoBotoProvider(Provider):
    """A correct botocore provider (a false-alarm control of the meta-test)."""

    def __init__(self, endpoint_url: str, endpoint: str = "ok", *, timeout: float = 10.0) -> None:
        self.endpoint_url = endpoint_url
        self.endpoint = endpoint
        self.timeout = timeout
        self._lock = threading.Lock()
        self._clients: dict[float, Any] = {timeout: make_client(endpoint_url, timeout)}
        self._tokenizer = WhitespaceTokenizer()
        self._info = ModelInfo(
            id=endpoint,
            provider=NAME,
            capabilities=Capabilities(generate=True, chat=True, embed=True, max_context=4096),
            boundary=Boundary(
                provider=NAME,
                location_kind="customer-cloud",
                region="eu-west-1",
                endpoint=f"{endpoint_url}/endpoints/{endpoint}",
                tls=False,
                network_path="loopback",
            ),
            embedding_dimension=8,
            embedding_normalized=True,
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def tokenizer(self) -> WhitespaceTokenizer:
        return self._tokenizer

    def client(self, timeout: float | None) -> Any:
        key = timeout or self.timeout
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = make_client(self.endpoint_url, key)
        return client

    def invoke(self, body: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client(timeout).invoke_endpoint(
                EndpointName=self.endpoint,
                Body=json.dumps(body).encode(),
                ContentType="application/json",
                Accept="application/json",
            )
            data: dict[str, Any] = json.loads(answer["Body"].read())
        except ClientError as exc:
            raise map_client_error(exc) from exc
        except BotoCoreError as exc:
            raise map_botocore(exc) from exc
        return data

    def payload(self, request: GenerateRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "stop": list(request.stop),
            "temperature": request.temperature,
            "top_p": request.top_p,
            "top_k": request.top_k,
        }
        if request.messages is not None:
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        else:
            body["prompt"] = request.prompt
        return {**request.extra, **body}

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        data = self.invoke(self.payload(request), request.timeout)
        usage = data["usage"]
        return GenerateResponse(
            text=data["text"],
            finish_reason=data["finish_reason"],
            usage=Usage(input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"], source="server"),
            model=self._info.id,
            latency_ms=(time.perf_counter() - started) * 1000.0,
        )

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        data = self.invoke({"texts": list(request.texts), **request.extra}, request.timeout)
        rows = sorted(data["data"], key=lambda row: row["index"])
        return EmbedResponse(
            vectors=tuple(tuple(row["embedding"]) for row in rows),
            model=self._info.id,
            normalized=True,
            usage=Usage(input_tokens=data["usage"]["input_tokens"], output_tokens=0, source="server"),
        )

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        super().close()
