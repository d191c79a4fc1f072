"""Every boto3 / botocore failure mapped onto the byom error hierarchy.

The taxonomy follows what SageMaker Runtime actually returns (wire-protocols.md §5.1).
Only the core ``RetryPolicy`` retries; this module only decides ``retryable`` and
``retry_after``. Two rules matter most:

- a read timeout is never retryable: the endpoint may still be generating, and a retry
  would run (and bill) the generation again;
- a container error (HTTP 424 ``ModelError``) is retryable only when the container itself
  said it was overloaded (``OriginalStatusCode`` 429 or 503).

This module is imported by the provider, never by the plugin's entry-point module.
"""

from __future__ import annotations

from typing import Any

from botocore import exceptions as bex
from botocore.eventstream import ChecksumMismatch, ParserError

from byom_sdk import (
    AuthError,
    BadRequest,
    ModelError,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
)

__all__ = ["map_error"]

PROVIDER = "sagemaker"

_THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "429",
    }
)
_AUTH_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
        "InvalidClientTokenId",
        "MissingAuthenticationTokenException",
        "IncompleteSignature",
        "UnauthorizedOperation",
        "RequestExpired",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "InternalStreamFailure",
    }
)
_CREDENTIAL_ERRORS = (
    bex.NoCredentialsError,
    bex.PartialCredentialsError,
    bex.CredentialRetrievalError,
    bex.NoAuthTokenError,
    bex.TokenRetrievalError,
    bex.ProfileNotFound,
    bex.UnauthorizedSSOTokenError,
    bex.SSOTokenLoadError,
)


def _read_timeout(exc: BaseException) -> bool:
    from urllib3.exceptions import ReadTimeoutError

    return isinstance(exc, (ReadTimeoutError, TimeoutError))


def _dropped(exc: BaseException) -> bool:
    from urllib3.exceptions import ProtocolError

    return isinstance(exc, (ProtocolError, ConnectionError)) and not isinstance(exc, TimeoutError)


def _retry_after(response: dict[str, Any]) -> float | None:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _location(response: dict[str, Any]) -> str:
    from byom_sdk.trust.residency import redact_url

    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    return redact_url(str(headers.get("location", "")))


def map_error(
    exc: BaseException, *, where: str, not_ready_retry_after: float = 5.0, streaming: bool = False
) -> ProviderError:
    """The byom error for a botocore exception.

    :param where: names the endpoint (and region) for the message.
    :param not_ready_retry_after: backoff hint for ModelNotReady (a cold start takes
        seconds, not the sub-second backoff a throttle gets).
    :param streaming: the failure happened while reading a stream.
    """
    if isinstance(exc, bex.ClientError):
        return _client_error(exc, where=where, not_ready_retry_after=not_ready_retry_after, streaming=streaming)
    if isinstance(exc, bex.ReadTimeoutError):
        # The request was written (the connection was open): the endpoint has it.
        return Timeout(
            f"{where}: no response within the read timeout; not retried, since the endpoint may still be "
            f"generating ({exc})",
            provider=PROVIDER,
            code="ReadTimeout",
            retryable=False,
            request_sent=True,
        )
    if isinstance(exc, bex.ConnectionError):
        # botocore's ConnectionError family (refused, unresolvable host, connect timeout,
        # proxy, TLS handshake or certificate) fails before the request is written, so
        # trying again cannot run it twice.
        return Unavailable(f"{where}: cannot connect: {exc}", provider=PROVIDER, code=type(exc).__name__)
    if isinstance(exc, (bex.ConnectionClosedError, bex.ResponseStreamingError)) or _dropped(exc):
        # The request went out and the connection broke before or while the answer came
        # (also a stream whose 200 had arrived, before its first event): the endpoint may
        # be running it, so it is not sent again unless the retry policy is told to.
        return Unavailable(
            f"{where}: the connection dropped {'during the stream' if streaming else 'before the answer was read'}: "
            f"{exc}",
            provider=PROVIDER,
            code=type(exc).__name__,
            request_sent=True,
        )
    if _read_timeout(exc):
        # urllib3's own timeout, unwrapped by botocore's event stream in the middle of a stream.
        return Timeout(
            f"{where}: no data within the read timeout in the middle of the stream ({exc})",
            provider=PROVIDER,
            code="ReadTimeout",
            retryable=False,
            request_sent=True,
        )
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return AuthError(f"{where}: AWS credentials unavailable: {exc}", provider=PROVIDER, code=type(exc).__name__)
    if isinstance(exc, (ChecksumMismatch, ParserError)):
        # A 200 answer the client cannot read (a proxy's page, a frame over the size limit, a
        # broken container): reported like a unary body that is not JSON.
        return ModelError(
            f"{where}: the stream answer is not a readable AWS event stream: {exc}",
            provider=PROVIDER,
            code="EventStreamCorrupt",
            request_sent=True,
        )
    if isinstance(exc, bex.ParamValidationError):
        return BadRequest(f"{where}: {exc}", provider=PROVIDER, code="ParamValidation")
    return ProviderError(
        f"{where}: {type(exc).__name__}: {exc}", provider=PROVIDER, code=type(exc).__name__, retryable=False
    )


def _client_error(exc: bex.ClientError, *, where: str, not_ready_retry_after: float, streaming: bool) -> ProviderError:
    response: dict[str, Any] = exc.response or {}
    error = response.get("Error", {}) or {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or exc)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if isinstance(exc, bex.EventStreamError) or (streaming and code in ("ModelStreamError", "InternalStreamFailure")):
        status = None  # errors inside a 200 stream have no status of their own
    details: dict[str, Any] = {}
    text = f"{where}: {code or 'error'}: {message}"
    hint = _retry_after(response)

    if code == "ModelNotReadyException":
        return Unavailable(
            text,
            provider=PROVIDER,
            status_code=status,
            code=code,
            retry_after=hint if hint is not None else not_ready_retry_after,
        )
    if code in _THROTTLE_CODES or status == 429:
        return Throttled(text, provider=PROVIDER, status_code=status, code=code, retry_after=hint)
    if code == "ModelError":
        original = response.get("OriginalStatusCode")
        details = {
            "original_status_code": original,
            "original_message": response.get("OriginalMessage"),
            "log_stream_arn": response.get("LogStreamArn"),
        }
        shown = response.get("OriginalMessage") or message
        return ModelError(
            f"{where}: the model container failed (status {original}): {shown}",
            provider=PROVIDER,
            status_code=status,
            code=code,
            details=details,
            retryable=original in (429, 503),
        )
    if code == "ModelStreamError":
        return ModelError(
            f"{where}: the model failed mid-stream: {message}", provider=PROVIDER, code=code, retryable=False
        )
    if code == "InternalStreamFailure":
        return Unavailable(f"{where}: the stream failed inside SageMaker: {message}", provider=PROVIDER, code=code)
    if isinstance(status, int) and 300 <= status < 400:
        # botocore does not follow redirects (and must not: the residency gate judged only
        # the configured host). The request did reach that host.
        return BadRequest(
            f"{where}: answered {status} with a redirect to {_location(response)!r}: byom does not follow "
            "redirects; configure the endpoint's own URL",
            provider=PROVIDER,
            status_code=status,
            code="redirect",
            request_sent=True,
        )
    if code in _AUTH_CODES or status in (401, 403):
        return AuthError(text, provider=PROVIDER, status_code=status, code=code)
    if code == "InternalDependencyException" or status == 530:
        return Unavailable(text, provider=PROVIDER, status_code=status, code=code, retryable=False)
    if status == 504:
        # A gateway (PrivateLink, a proxy) gave up waiting for the endpoint, which had the
        # request and may still be generating: a retry would run (and bill) it twice.
        return Timeout(
            f"{text} (a gateway timed out waiting for the endpoint; not retried)",
            provider=PROVIDER,
            status_code=status,
            code=code,
            retryable=False,
            request_sent=True,
        )
    if code in _UNAVAILABLE_CODES or (isinstance(status, int) and status >= 500):
        return Unavailable(text, provider=PROVIDER, status_code=status, code=code, retry_after=hint)
    if code in ("ValidationError", "ValidationException") or (isinstance(status, int) and 400 <= status < 500):
        if "inference component" in message.lower() or "INFERENCE_COMPONENT" in message:
            text += " (set 'inference_component' in the model's config)"
        return BadRequest(text, provider=PROVIDER, status_code=status, code=code)
    return ProviderError(text, provider=PROVIDER, status_code=status, code=code, retryable=False)
