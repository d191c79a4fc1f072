"""Error objects inside answers: one reading of every container's error body.

Containers report failures in the body too — with HTTP 200 behind a proxy that wraps
them (Vertex ``predict``), as a record in the middle of a stream, or as the body of an
error status: OpenAI ``{"error": {"message", "type", "code"}}``, TGI / TEI ``{"error",
"error_type"}``, Google ``{"error": {"code", "status", "message"}}``, vLLM ``{"object":
"error"}``, LMI ``{"error", "code": 424}``. Each is mapped onto the error tree by what it
says: an overloaded container is ``Throttled``, a validation error ``BadRequest``, a failed
generation ``ModelError``, a status code by its class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import AuthError, BadRequest, ModelError, ProviderError, Throttled, Timeout, Unavailable

__all__ = ["error_from_body", "find_error_body"]

# HTTP status → class.
STATUS_ERRORS: dict[int, type[ProviderError]] = {
    400: BadRequest,
    401: AuthError,
    403: AuthError,
    404: BadRequest,
    408: Timeout,
    413: BadRequest,
    422: BadRequest,
    424: ModelError,
    429: Throttled,
    500: Unavailable,
    502: Unavailable,
    503: Unavailable,
    504: Timeout,
}
# gRPC / Google status names → HTTP status.
STATUS_NAMES: dict[str, int] = {
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
    "DEADLINE_EXCEEDED": 504,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "NOT_FOUND": 404,
    "UNIMPLEMENTED": 501,
}
# TGI / TEI ``error_type`` and OpenAI error ``type`` / ``code`` values.
ERROR_TYPES: dict[str, type[ProviderError]] = {
    "overloaded": Throttled,
    "rate_limit_exceeded": Throttled,
    "validation": BadRequest,
    "invalid_request_error": BadRequest,
    "tokenizer": BadRequest,
    "empty": BadRequest,
    "generation": ModelError,
    "incomplete_generation": ModelError,
    "backend": ModelError,
}


def find_error_body(body: Any) -> Mapping[str, Any] | None:
    """``body`` when it reports a failure, else ``None``."""
    if isinstance(body, Mapping):
        if body.get("error") not in (None, "", {}):
            return body
        if body.get("object") == "error":
            return body
    return None


def error_from_body(body: Mapping[str, Any], *, provider: str, where: str) -> ProviderError:
    """The byom error an error body describes."""
    error = body.get("error", body)
    status: int | None = None
    code: str | None = None
    kind: str | None = None
    if isinstance(error, Mapping):
        message = str(error.get("message") or error)
        raw_code = error.get("code")
        if isinstance(raw_code, (int, float)) or (isinstance(raw_code, str) and raw_code.isdigit()):
            status = int(raw_code)
        elif isinstance(raw_code, str):
            kind = raw_code
        state = error.get("status") or error.get("type")
        code = str(state) if state else kind
        if status is None and code in STATUS_NAMES:
            status = STATUS_NAMES[code]
        if isinstance(error.get("error_type"), str):
            kind = error["error_type"]
        elif kind is None and isinstance(error.get("type"), str):
            kind = error["type"]
    else:
        message = str(error)
        if isinstance(body.get("error_type"), str):
            kind = body["error_type"]
        if isinstance(body.get("code"), int):
            status = int(body["code"])
    cls: type[ProviderError] = ModelError
    if kind is not None and kind in ERROR_TYPES:
        cls = ERROR_TYPES[kind]
        code = code or kind
    elif status is not None:
        cls = STATUS_ERRORS.get(status, BadRequest if 400 <= status < 500 else ModelError)
    text = " ".join(f"{where} returned an error: {status or ''} {code or ''}: {message}".split())
    return cls(text, provider=provider, status_code=status, code=code, details={"body": dict(body)})
