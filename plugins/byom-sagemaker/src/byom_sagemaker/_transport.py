"""The SageMaker transport: codec bodies over boto3's ``sagemaker-runtime`` client.

``InvokeEndpoint`` for unary calls, ``InvokeEndpointWithResponseStream`` for streams (the
AWS event stream's ``PayloadPart`` bytes go to the shared line decoder). Every botocore
and urllib3 failure is mapped here (:mod:`byom_sagemaker._errors`), never leaked.

Per-call timeouts: botocore fixes socket timeouts per client, but each attempt gets the
time left until the call's deadline. urllib3 clones its pool's ``Timeout`` for every
request, so the client's HTTP pool gets a ``Timeout`` whose clone reads the budget of
the call running in this thread (set by :meth:`SageMakerTransport.call` around the client
call, in the same frame) — one client, per-call timeouts, no client per call.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from byom_sdk import BadRequest, EmbedRequest, GenerateRequest, ModelError

from ._boundary import DestinationChanged
from ._errors import map_error

__all__ = ["SageMakerTransport", "install_call_timeouts"]

log = logging.getLogger("byom_sagemaker")

PROVIDER = "sagemaker"

_call_limit: contextvars.ContextVar[float | None] = contextvars.ContextVar("byom_sagemaker_limit", default=None)


def install_call_timeouts(client: Any, connect: float, read: float) -> bool:
    """Give ``client``'s HTTP pool a timeout that honours each call's own budget.

    Returns False (the config's timeouts still apply) if botocore's HTTP session does
    not have the expected shape.
    """
    from urllib3.util.timeout import Timeout

    class CallTimeout(Timeout):
        def clone(self) -> Timeout:
            limit = _call_limit.get()
            if limit is None:
                return Timeout(connect=connect, read=read)
            return Timeout(connect=min(connect, limit), read=min(read, limit))

    try:
        http = client._endpoint.http_session
        timeout = CallTimeout(connect=connect, read=read)
        http._timeout = timeout
        http._manager.connection_pool_kw["timeout"] = timeout
    except AttributeError:  # pragma: no cover - depends on botocore internals
        log.warning("botocore HTTP session layout changed; per-call timeouts fall back to the config's")
        return False
    return True


#: json.dumps with non-default options builds a new encoder per call; one serves every call.
_BODY_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _dumps(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    return _BODY_JSON.encode(body).encode("utf-8")


class SageMakerTransport:
    """Sends codec bodies to one endpoint.

    :param client: the ``sagemaker-runtime`` client (built, guarded and owned by the model).
    :param params: ``InvokeEndpoint`` parameters besides ``Body`` (endpoint, content type,
        target variant, inference component…).
    :param stream_params: the same for ``InvokeEndpointWithResponseStream``.
    :param where: names the endpoint in errors.
    :param not_ready_retry_after: backoff hint on ModelNotReady (a cold start).
    """

    streams_records = False

    def __init__(
        self,
        client: Any,
        *,
        params: Mapping[str, Any],
        stream_params: Mapping[str, Any],
        where: str,
        not_ready_retry_after: float,
    ) -> None:
        self.client = client
        self._params = dict(params)
        self._stream_params = dict(stream_params)
        self._where = where
        self._not_ready = not_ready_retry_after

    def _error(self, exc: Exception, *, streaming: bool = False) -> Exception:
        if isinstance(exc, DestinationChanged):
            return exc.violation(self._where)
        return map_error(exc, where=self._where, not_ready_retry_after=self._not_ready, streaming=streaming)

    def _with_request(
        self, params: dict[str, Any], body: Any, request: GenerateRequest | EmbedRequest
    ) -> dict[str, Any]:
        call = {**params, "Body": _dumps(body)}
        if request.metadata.request_id:
            inference_id = request.metadata.request_id[:64]
            # InferenceId travels as an HTTP header: a control character (a newline) would make
            # the HTTP client refuse the request with an untyped error after signing.
            if any(ord(c) < 32 or ord(c) == 127 for c in inference_id):
                raise BadRequest(
                    f"{self._where}: metadata.request_id {inference_id!r} cannot be sent as SageMaker's "
                    "InferenceId header (it holds a control character)",
                    provider=PROVIDER,
                    code="InvalidInferenceId",
                    details={"field": "metadata.request_id"},
                )
            call["InferenceId"] = inference_id
        return call

    def call(self, operation: str, body: Any, request: GenerateRequest | EmbedRequest) -> Any:
        params = self._with_request(self._params, body, request)
        token = _call_limit.set(request.timeout) if request.timeout is not None else None
        try:
            payload: bytes = self.client.invoke_endpoint(**params)["Body"].read()
        except Exception as exc:  # every botocore failure is mapped, never leaked
            raise self._error(exc) from exc
        finally:
            if token is not None:
                _call_limit.reset(token)
        try:
            return json.loads(payload)
        except ValueError:
            shown = payload[:200].decode("utf-8", "replace")
            raise ModelError(
                f"{self._where}: the container answered with a body that is not JSON: {shown!r}",
                provider=PROVIDER,
                code="DecodeError",
            ) from None

    def stream(self, body: Any, request: GenerateRequest) -> Iterator[bytes]:
        params = self._with_request(self._stream_params, body, request)
        token = _call_limit.set(request.timeout) if request.timeout is not None else None
        try:
            events = self.client.invoke_endpoint_with_response_stream(**params)["Body"]
        except Exception as exc:  # every botocore failure is mapped, never leaked
            raise self._error(exc) from exc
        finally:
            if token is not None:
                _call_limit.reset(token)
        try:
            for event in events:
                part = event.get("PayloadPart")
                if part is not None:
                    yield part["Bytes"]
        except Exception as exc:  # mid-stream failures come unwrapped from the event stream
            raise self._error(exc, streaming=True) from exc
        finally:
            events.close()

    def close(self) -> None:
        self.client.close()
