"""Map what google.api_core, google.auth, grpc and requests raise onto the byom_sdk error
hierarchy (error *bodies* that arrive with a success status are read by the shared
``byom_sdk.wire.error_from_body``).

Retries belong to the core ``RetryPolicy``; this module only decides ``retryable`` and
``retry_after``. A deadline is a :class:`~byom_sdk.Timeout` and not retried: the
generation may still be running on the endpoint.
"""

from __future__ import annotations

from typing import Any

from byom_sdk import (
    AuthError,
    BadRequest,
    ModelError,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
)

__all__ = ["map_exception"]

_PROVIDER = "vertex"

# gRPC status names → (class, http status) for errors that escape unwrapped.
_GRPC: dict[str, tuple[type[ProviderError], int]] = {
    "RESOURCE_EXHAUSTED": (Throttled, 429),
    "UNAVAILABLE": (Unavailable, 503),
    "INTERNAL": (Unavailable, 500),
    "DEADLINE_EXCEEDED": (Timeout, 504),
    "UNAUTHENTICATED": (AuthError, 401),
    "PERMISSION_DENIED": (AuthError, 403),
    "INVALID_ARGUMENT": (BadRequest, 400),
    "FAILED_PRECONDITION": (BadRequest, 400),
    "OUT_OF_RANGE": (BadRequest, 400),
    "NOT_FOUND": (BadRequest, 404),
    "UNIMPLEMENTED": (BadRequest, 501),
}


def _retry_after(exc: Any) -> float | None:
    """The server's RetryInfo delay, when the error carries one: a protobuf message over
    gRPC, its JSON form over REST (``{"@type": "….RetryInfo", "retryDelay": "1.5s"}``,
    which google-api-core leaves a dict), else a REST ``Retry-After`` header in seconds."""
    for detail in getattr(exc, "details", None) or ():
        if isinstance(detail, dict):
            if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                seconds = _seconds(str(detail.get("retryDelay", "")).removesuffix("s"))
                if seconds is not None:
                    return seconds
            continue
        delay = getattr(detail, "retry_delay", None)
        if delay is not None and hasattr(delay, "seconds"):
            return float(delay.seconds) + float(getattr(delay, "nanos", 0)) / 1e9
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is not None and hasattr(headers, "get"):
        return _seconds(headers.get("retry-after"))
    return None


def _seconds(value: Any) -> float | None:
    """A non-negative finite number of seconds, or None (an HTTP date is not read)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0.0 <= seconds < float("inf") else None


def map_exception(exc: BaseException, *, endpoint: str, operation: str) -> ProviderError:
    """The byom_sdk error for ``exc`` raised while calling ``operation`` on ``endpoint``.

    :param exc: what the client library raised.
    :param endpoint: the endpoint's resource name, quoted in the message.
    :param operation: the RPC, e.g. ``"predict"`` or ``"streamRawPredict"``.
    """
    from google.api_core import exceptions as gexc

    where = f"vertex endpoint {endpoint}: {operation}"
    if isinstance(exc, gexc.RetryError) and exc.cause is not None:
        exc = exc.cause
    if isinstance(exc, gexc.GoogleAPICallError):
        grpc_code = getattr(exc, "grpc_status_code", None)
        code = grpc_code.name if grpc_code is not None else type(exc).__name__
        status = exc.code if isinstance(exc.code, int) else None
        message = f"{where} failed: {status or ''} {code}: {exc.message}".replace("  ", " ")
        kwargs: dict[str, Any] = {"provider": _PROVIDER, "status_code": status, "code": code}
        # Order matters: DeadlineExceeded subclasses GatewayTimeout (a ServerError).
        if isinstance(exc, gexc.TooManyRequests):
            return Throttled(message, retry_after=_retry_after(exc), **kwargs)
        if isinstance(exc, gexc.GatewayTimeout):
            return Timeout(message, **kwargs)
        if isinstance(exc, (gexc.Unauthenticated, gexc.PermissionDenied, gexc.Unauthorized, gexc.Forbidden)):
            return AuthError(message, **kwargs)
        if isinstance(exc, gexc.Cancelled):
            return Unavailable(message, retryable=False, **kwargs)
        if isinstance(exc, gexc.MethodNotImplemented):
            return BadRequest(message, **kwargs)
        if isinstance(exc, gexc.ServerError):
            return Unavailable(message, **kwargs)
        if isinstance(exc, gexc.ClientError):
            return BadRequest(message, **kwargs)
        # Statuses google-api-core has no class for, as raw-predict containers send them:
        # 424 is the container failing (SageMaker's word too), 413 / 422 the request.
        if status == 424:
            return ModelError(message, **kwargs)
        if status is not None and 400 <= status < 500:
            return BadRequest(message, **kwargs)
        if status is not None and status >= 500:
            return Unavailable(message, **kwargs)
        return ProviderError(message, retryable=False, **kwargs)
    if type(exc).__name__ == "ParseError" and type(exc).__module__.startswith("google.protobuf"):
        return ModelError(
            f"{where}: the answer does not fit the {operation} response message ({exc}); if the "
            "container returns `predictions` as a single object, set codec_options.use_raw_predict = true",
            provider=_PROVIDER,
            code="ParseError",
        )
    return _map_transport_error(exc, where)


def _map_transport_error(exc: BaseException, where: str) -> ProviderError:
    name = type(exc).__name__
    module = type(exc).__module__
    text = f"{where} failed: {name}: {exc}"
    if module.startswith("google.auth"):
        from google.auth import exceptions as aexc

        if isinstance(exc, aexc.TransportError):
            return Unavailable(text, provider=_PROVIDER, code=name)
        return AuthError(text, provider=_PROVIDER, code=name)
    if module.startswith(("requests", "urllib3")):
        import requests

        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return Unavailable(text, provider=_PROVIDER, code=name)  # nothing was sent
        if isinstance(exc, requests.exceptions.Timeout):
            return Timeout(text, provider=_PROVIDER, code=name)
        if isinstance(exc, requests.exceptions.ConnectionError) and _before_sending(exc):
            return Unavailable(text, provider=_PROVIDER, code=name)
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            # The request went out; the connection broke before or while the answer came:
            # the endpoint may have generated it, the retry policy does not resend it.
            return Unavailable(text, provider=_PROVIDER, code=name, request_sent=True)
        if isinstance(exc, requests.exceptions.ContentDecodingError):
            return ModelError(text, provider=_PROVIDER, code=name)
        return ProviderError(text, provider=_PROVIDER, code=name, retryable=False)
    code_fn = getattr(exc, "code", None)
    if callable(code_fn) and module.startswith("grpc"):
        status = code_fn()
        cls, http = _GRPC.get(getattr(status, "name", ""), (ProviderError, None))
        return cls(text, provider=_PROVIDER, status_code=http, code=getattr(status, "name", name))
    if isinstance(exc, (ConnectionError, OSError)):
        return Unavailable(text, provider=_PROVIDER, code=name)
    return ProviderError(text, provider=_PROVIDER, code=name, retryable=False)


def _before_sending(exc: BaseException) -> bool:
    """``requests``' ConnectionError raised while connecting (no connection, a refused
    or unresolvable host, a TLS handshake or a proxy that failed): nothing was sent. Its
    first argument is urllib3's MaxRetryError, whose ``reason`` says which; a protocol
    error (the connection reset or closed once the request was written) was sent."""
    import requests
    from urllib3 import exceptions as uexc

    if isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.ProxyError)):
        return True
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, uexc.MaxRetryError):
        cause = cause.reason
    # NameResolutionError (urllib3 2) is a NewConnectionError.
    return isinstance(cause, (uexc.NewConnectionError, uexc.ConnectTimeoutError))
