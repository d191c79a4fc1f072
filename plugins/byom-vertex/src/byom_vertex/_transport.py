"""The Vertex transports: codec bodies over the GAPIC PredictionService, gRPC or REST.

Each operation goes through the RPC its codec names (``predict``, ``raw_predict``,
``stream_raw_predict``, ``server_streaming_predict``). Sync calls use
``PredictionServiceClient``; async calls over gRPC use ``PredictionServiceAsyncClient``,
one per event loop (a grpc.aio channel belongs to the loop that made it), closed by
``aclose``. The REST transport has no async GAPIC client without aiohttp, so a REST model
is sync only and async callers are served by the Client's executor.

GAPIC's own retry is off on every call (``retry=None``): retries happen once, in the core
policy. The call's ``timeout`` bounds the whole call: gRPC deadlines do so natively; raw
REST streams (``rest_raw = "http"``) are closed by a watchdog when the time is up, since
the HTTP library's timeout bounds each read, not the stream. A stream is read to its end
(past ``[DONE]``), so its connection goes back to the pool instead of being dropped.

A success answer the client cannot read (a body that is not JSON, a REST stream that is not
a JSON array of messages, a gRPC message that does not deserialize) is a ``ModelError``
(``DecodeError``) naming the endpoint; a stream without the container's end is caught by
the codec's end check (``require_end`` on the built-in streaming codecs of
:mod:`byom_sdk.wire.vertex`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

from byom_sdk import ByomError, EmbedRequest, GenerateRequest, ModelError, ProviderError, Unavailable
from byom_sdk.wire import error_from_body, find_error_body
from byom_sdk.wire.vertex import VertexCodec

from ._config import VertexConfig
from ._errors import map_exception

__all__ = ["VertexGrpcTransport", "VertexTransport"]

_RPC_NAMES = {
    "predict": "predict",
    "raw_predict": "rawPredict",
    "stream_raw_predict": "streamRawPredict",
    "server_streaming_predict": "serverStreamingPredict",
}


class VertexTransport:
    """Calls one endpoint's PredictionService (sync).

    :param config: the validated config.
    :param codec: names the RPC of each operation.
    :param channel: a ready gRPC channel for the sync client (tests, custom TLS setups).
    :param credentials: google.auth credentials (default: from ``config.credentials``).
    """

    def __init__(
        self, config: VertexConfig, codec: VertexCodec, *, channel: Any = None, credentials: Any = None
    ) -> None:
        self.config = config
        self.codec = codec
        self.endpoint = config.resource
        self.streams_records = codec.stream_rpc == "server_streaming_predict"
        self._channel = channel
        self._credentials = credentials
        self._lock = threading.Lock()
        self._client: Any = None
        self._http: Any = None
        self._gapic: Any = None
        self._raw_http = config.transport == "rest" and config.rest_raw == "http"
        self._closed = False

    # -- clients ----------------------------------------------------------------------------

    def gapic(self) -> Any:
        """The GAPIC glue module (imported on first use: it pulls in google.* and grpc)."""
        module = self._gapic
        if module is None:
            from . import _gapic as module

            self._gapic = module
        return module

    def credentials(self) -> Any:
        if self._credentials is None:
            self._credentials = self.gapic().credentials_for(self.config)
        return self._credentials

    def needs_credentials(self) -> bool:
        return not (self.config.insecure and self.config.transport == "grpc") and self._channel is None

    def _refuse_closed(self) -> None:
        if self._closed:
            raise ByomError(f"vertex model for endpoint {self.endpoint} is closed")

    def _sync(self) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                self._refuse_closed()
                if self._client is None:
                    creds = self.credentials() if self.needs_credentials() else None
                    self._client = self.gapic().sync_client(self.config, creds, self._channel)
                client = self._client
        return client

    def _http_client(self) -> Any:
        http = self._http
        if http is None:
            with self._lock:
                self._refuse_closed()
                if self._http is None:
                    from ._http import RawHttp

                    self._http = RawHttp(self.config, self.credentials())
                http = self._http
        return http

    # -- shared steps -----------------------------------------------------------------------

    def timeout(self, request: GenerateRequest | EmbedRequest) -> float:
        if request.timeout is None:
            return self.config.timeout
        return min(request.timeout, self.config.timeout)

    def rpc_for(self, operation: str) -> str:
        rpc = self.codec.embed_rpc if operation == "embed" else self.codec.generate_rpc
        if rpc is None:  # the capability check makes this unreachable through the public API
            raise ModelError(f"codec '{self.codec.name}' cannot {operation}", provider="vertex")
        return rpc

    def rpc_request(self, rpc: str, body: Any) -> Any:
        gapic = self.gapic()
        content_type = self.codec.content_type
        if rpc == "predict":
            return gapic.predict_request(self.endpoint, body)
        if rpc == "raw_predict":
            return gapic.raw_request(self.endpoint, body, content_type)
        if rpc == "stream_raw_predict":
            return gapic.stream_raw_request(self.endpoint, body, content_type)
        return gapic.streaming_request(self.endpoint, body)

    def unreadable(self, rpc: str) -> ModelError:
        """A gRPC answer message the client could not deserialize (the sync client reports
        it as an INTERNAL status, ``grpc.aio`` hands over ``None``): the 200 answer of a
        broken container or proxy, a ModelError as for a body that is not JSON over REST."""
        return ModelError(
            f"vertex endpoint {self.endpoint}: {_RPC_NAMES[rpc]} answered with a message the gRPC client "
            "cannot deserialize",
            provider="vertex",
            code="DecodeError",
        )

    def mapped(self, exc: BaseException, rpc: str) -> BaseException:
        if isinstance(exc, ByomError):
            return exc
        if _grpc_undecodable(exc):
            return self.unreadable(rpc)
        if isinstance(exc, (UnicodeDecodeError, json.JSONDecodeError)):
            # The client library could not read a success answer (a proxy's page, a broken
            # container): the container failed, as SageMaker and the HTTP plugins report it.
            return ModelError(
                f"vertex endpoint {self.endpoint}: {_RPC_NAMES[rpc]} answered with a body that is not JSON ({exc})",
                provider="vertex",
                code="DecodeError",
            )
        return map_exception(exc, endpoint=self.endpoint, operation=_RPC_NAMES[rpc])

    def stream_mapped(self, exc: BaseException, rpc: str, *, reading: bool) -> BaseException:
        """``mapped`` for a stream; ``reading``: the RPC had answered and its messages were
        being read. The GAPIC REST client reads a stream as a JSON array of messages and
        fails with a plain ValueError on any other body (an empty body or ``[]`` is no
        message at all: the codec's end check catches that) and with a protobuf ParseError
        on a message that does not fit: a 200 answer the client cannot read, a ModelError
        as for unary calls. An array that stops before its ``]`` is a stream cut short."""
        if not reading or isinstance(exc, ByomError):
            return self.mapped(exc, rpc)
        kind, module = type(exc).__name__, type(exc).__module__
        # requests' and google.auth's ValueError subclasses (InvalidURL, MalformedError) are
        # not about the answer: the raw HTTP path posts (and refreshes) on the first read.
        library = module.startswith(("requests", "urllib3", "google.auth"))
        unreadable = (isinstance(exc, ValueError) and not library) or (
            kind == "ParseError" and module.startswith("google.protobuf")
        )
        if not unreadable:
            return self.mapped(exc, rpc)
        where = f"vertex endpoint {self.endpoint}: {_RPC_NAMES[rpc]}"
        if str(exc).startswith("Unfinished stream"):  # google.api_core.rest_streaming
            return Unavailable(
                f"{where}: the stream ended before the container sent its end (the message array was cut)",
                provider="vertex",
                code="StreamEnded",
                request_sent=True,
            )
        return ModelError(
            f"{where} answered with a stream the client cannot read ({kind}: {str(exc)[:200]})",
            provider="vertex",
            code="DecodeError",
        )

    def checked(self, body: Any, rpc: str) -> Any:
        """``body``, unless it (or one of its predictions) is an error object."""
        where = f"vertex endpoint {self.endpoint}: {_RPC_NAMES[rpc]}"
        found = find_error_body(body)
        if found is not None:
            raise error_from_body(found, provider="vertex", where=where)
        if isinstance(body, dict) and "predictions" in body:
            items = body["predictions"]
            for item in items if isinstance(items, list) else [items]:
                found = find_error_body(item)
                if found is not None:
                    raise error_from_body(found, provider="vertex", where=where)
        return body

    def unary_answer(self, rpc: str, response: Any) -> Any:
        if rpc == "predict":
            return self.checked(self.gapic().predictions(response), rpc)
        data = response.data
        try:
            body = json.loads(data) if data else None
        except ValueError:
            raise ModelError(
                f"vertex endpoint {self.endpoint}: rawPredict answered with non-JSON "
                f"{response.content_type or 'body'}: {data[:200]!r}",
                provider="vertex",
                code="DecodeError",
            ) from None
        if body is None:
            raise ModelError(
                f"vertex endpoint {self.endpoint}: rawPredict answered with an empty body "
                "(over REST, check that the endpoint speaks the wrapped HttpBody JSON form)",
                provider="vertex",
                code="DecodeError",
            )
        return self.checked(body, rpc)

    def stream_item(self, response: Any) -> Any:
        if self.streams_records:
            return self.gapic().streaming_outputs(response)
        data: bytes = response.data
        return data

    # -- sync -------------------------------------------------------------------------------

    def _sync_call(self, rpc: str, body: Any, timeout: float) -> Any:
        if self._raw_http and rpc in ("raw_predict", "stream_raw_predict"):
            http = self._http_client()
            data = json.dumps(body).encode()
            if rpc == "raw_predict":
                return _Body(http.raw_predict(data, self.codec.content_type, timeout))
            return _bodies(http.stream_raw_predict(data, self.codec.content_type, timeout))
        return getattr(self._sync(), rpc)(request=self.rpc_request(rpc, body), timeout=timeout, retry=None)

    def call(self, operation: str, body: Any, request: GenerateRequest | EmbedRequest) -> Any:
        rpc = self.rpc_for(operation)
        try:
            response = self._sync_call(rpc, body, self.timeout(request))
            return self.unary_answer(rpc, response)
        except ProviderError:
            raise
        except Exception as exc:
            raise self.mapped(exc, rpc) from exc

    def stream(self, body: Any, request: GenerateRequest) -> Iterator[Any]:
        rpc = self.codec.stream_rpc or "stream_raw_predict"
        responses: Any = None
        try:
            responses = self._sync_call(rpc, body, self.timeout(request))
            for response in responses:
                yield self.stream_item(response)
        except (GeneratorExit, ProviderError):
            raise
        except Exception as exc:
            raise self.stream_mapped(exc, rpc, reading=responses is not None) from exc
        finally:
            _cancel(responses)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            http, self._http = self._http, None
            client, self._client = self._client, None
        if http is not None:
            http.close()
        if client is not None and self._channel is None:
            client.transport.close()


class VertexGrpcTransport(VertexTransport):
    """The gRPC transport, with native async calls on ``grpc.aio``.

    :param async_channel_factory: makes a ``grpc.aio`` channel for the async client;
        called once per event loop.
    """

    def __init__(
        self,
        config: VertexConfig,
        codec: VertexCodec,
        *,
        channel: Any = None,
        credentials: Any = None,
        async_channel_factory: Any = None,
    ) -> None:
        super().__init__(config, codec, channel=channel, credentials=credentials)
        self._async_channel_factory = async_channel_factory
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def _async(self) -> Any:
        self._refuse_closed()
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            factory = self._async_channel_factory
            channel = factory() if factory is not None else None
            creds = self.credentials() if channel is None and not self.config.insecure else None
            client = self._aclients[loop] = self.gapic().async_client(self.config, creds, channel)
        return client

    async def _async_call(self, rpc: str, body: Any, timeout: float) -> Any:
        call = getattr(self._async(), rpc)
        return await call(request=self.rpc_request(rpc, body), timeout=timeout, retry=None)

    async def acall(self, operation: str, body: Any, request: GenerateRequest | EmbedRequest) -> Any:
        rpc = self.rpc_for(operation)
        try:
            response = await self._async_call(rpc, body, self.timeout(request))
            if response is None:
                raise self.unreadable(rpc)
            return self.unary_answer(rpc, response)
        except ProviderError:
            raise
        except Exception as exc:
            raise self.mapped(exc, rpc) from exc

    async def astream(self, body: Any, request: GenerateRequest) -> AsyncIterator[Any]:
        rpc = self.codec.stream_rpc or "stream_raw_predict"
        responses: Any = None
        try:
            responses = await self._async_call(rpc, body, self.timeout(request))
            async for response in responses:
                if response is None:
                    raise self.unreadable(rpc)
                yield self.stream_item(response)
        except (GeneratorExit, ProviderError):
            raise
        except Exception as exc:
            raise self.stream_mapped(exc, rpc, reading=responses is not None) from exc
        finally:
            _cancel(responses)

    async def aclose(self) -> None:
        """Close this loop's async channel properly, then the sync client."""
        try:
            client = self._aclients.pop(asyncio.get_running_loop(), None)
            if client is not None and self._async_channel_factory is None:
                await client.transport.close()
        finally:
            self.close()

    def close(self) -> None:
        super().close()
        self._aclients = weakref.WeakKeyDictionary()


class _Body:
    """A raw REST body shaped like the HttpBody the GAPIC client returns."""

    __slots__ = ("content_type", "data")

    def __init__(self, data: bytes, content_type: str = "") -> None:
        self.data = data
        self.content_type = content_type


def _bodies(source: Iterator[bytes]) -> Iterator[_Body]:
    try:
        for data in source:
            yield _Body(data)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def _grpc_undecodable(exc: BaseException) -> bool:
    """Whether ``exc`` is the sync gRPC client failing to deserialize an answer message (it
    reports that as its own INTERNAL status, which google-api-core wraps)."""
    status = getattr(exc, "grpc_status_code", None)
    message = getattr(exc, "message", None)
    return (
        getattr(status, "name", None) == "INTERNAL"
        and isinstance(message, str)
        and message.startswith("Exception deserializing response")
    )


def _cancel(responses: Any) -> None:
    cancel = getattr(responses, "cancel", None) or getattr(responses, "close", None)
    if cancel is not None:
        try:
            cancel()
        except Exception:  # noqa: BLE001 - cancelling a finished call may raise; nothing to do.
            pass
