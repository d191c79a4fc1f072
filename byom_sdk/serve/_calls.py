"""One request's life: its body (size-limited), its deadline, the client going away, its
errors, and streamed responses that stop generating when nobody reads them.

Every route runs its model call through :func:`guarded`, which races the call against the
request's deadline and the client disconnecting: either one cancels the call, and the
pipeline then records it as ``cancelled`` in the audit. Streams use :class:`EventStream`,
which does the same for the whole streamed body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from byom_sdk import (
    AuditError,
    AuthError,
    BadRequest,
    ByomError,
    CapabilityNotSupported,
    ModelError,
    PolicyViolation,
    ProviderError,
    SchemaError,
    Throttled,
    Timeout,
    Unavailable,
)

__all__ = [
    "ClientGone",
    "EventStream",
    "ServeError",
    "classify",
    "dumps",
    "frames_of",
    "guarded",
    "read_json",
]

log = logging.getLogger("byom_sdk.serve")

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected; there is nobody to answer."""


class ServeError(Exception):
    """A failure as the wire will show it, before a protocol renders it.

    :param status: the HTTP status.
    :param kind: the OpenAI-style error ``type`` (each protocol maps it to its own words).
    :param param: the request field at fault.
    :param code: a short machine-readable code.
    :param retry_after: seconds, sent as ``Retry-After``.
    :param retry: whether a client should retry (``x-should-retry``); ``None``: its default.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code
        self.retry_after = retry_after
        self.retry = retry

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.retry_after is not None:
            out["retry-after"] = str(max(0, math.ceil(self.retry_after)))
        if self.retry is not None:
            out["x-should-retry"] = "true" if self.retry else "false"
        return out


def invalid(param: str, message: str) -> ServeError:
    """A 400 naming the request field at fault."""
    return ServeError(400, message, param=param, code="invalid_value")


_UPSTREAM = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>)]+|\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b")


def _public(message: str) -> str:
    """An upstream failure's message without the upstream's URLs and addresses: they are
    the serving side's topology, not the API caller's business (the server log keeps them)."""
    return _UPSTREAM.sub("<upstream>", message)


def classify(error: BaseException) -> ServeError:
    """The status and wording of any failure; never a traceback on the wire."""
    served = _classify(error)
    if served.status >= 500 and served is not error:
        log.warning("request failed: %s", served.message)
        served.message = _public(served.message)
    return served


def _classify(error: BaseException) -> ServeError:
    if isinstance(error, ServeError):
        return error
    if isinstance(error, PolicyViolation):
        return ServeError(403, error.message, kind="policy_violation", code=error.rule)
    if isinstance(error, CapabilityNotSupported):
        return ServeError(400, error.message, code="unsupported", param=error.capability)
    if isinstance(error, BadRequest):
        field = error.details.get("field")
        return ServeError(400, error.message, param=str(field) if field else None, code=error.code or "invalid_request")
    if isinstance(error, Throttled):
        return ServeError(429, error.message, kind="rate_limit_error", code="throttled", retry_after=error.retry_after)
    if isinstance(error, Unavailable):
        retry = None if error.retryable else False
        return ServeError(
            503,
            error.message,
            kind="service_unavailable",
            code="unavailable",
            retry_after=error.retry_after,
            retry=retry,
        )
    if isinstance(error, Timeout):
        # Not retried: the model may still be generating; a retry would run it twice.
        return ServeError(504, error.message, kind="timeout", code="timeout", retry=False)
    if isinstance(error, AuthError):
        # The model's own credentials failed, not the caller's: a 401 would blame their key.
        return ServeError(502, error.message, kind="server_error", code="upstream_auth_error", retry=False)
    if isinstance(error, SchemaError):
        return ServeError(502, error.message, kind="server_error", code="schema_error", retry=False)
    if isinstance(error, ModelError):
        return ServeError(502, error.message, kind="server_error", code="model_error", retry=error.retryable)
    if isinstance(error, ProviderError):
        return ServeError(502, error.message, kind="server_error", code=error.code or "provider_error", retry=False)
    if isinstance(error, AuditError):
        # The message names the audit file on the serving host: the log has it.
        log.error("audit unavailable: %s", error.message)
        return ServeError(
            503, "the audit log is unavailable (see the server log)", kind="service_unavailable",
            code="audit_unavailable", retry=False,
        )  # fmt: skip
    if isinstance(error, ByomError):
        return ServeError(500, error.message, kind="server_error", code="server_error", retry=False)
    log.error("unexpected error while serving a request", exc_info=error)
    return ServeError(500, "internal server error (see the server log)", kind="server_error", retry=False)


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


async def frames_of(
    first: Any, stream: AsyncIterator[Any], handle: Callable[[Any], bytes | None]
) -> AsyncIterator[bytes]:
    """What ``handle`` makes of ``first`` (the event already read to decide the status)
    and of every later event of ``stream``; events it answers ``None`` for write nothing."""
    if first is None:
        return
    out = handle(first)
    if out is not None:
        yield out
    async for event in stream:
        out = handle(event)
        if out is not None:
            yield out


async def read_json(request: Request, limit: int) -> Any:
    """The body parsed as JSON, refusing bodies over ``limit`` bytes before reading them."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ServeError(400, "Content-Length is not a number", code="invalid_request") from None
        if size > limit:
            raise ServeError(413, f"the body of {size} bytes exceeds the limit of {limit}", code="request_too_large")
    parts: list[bytes] = []
    total = 0
    try:
        async for part in request.stream():
            total += len(part)
            if total > limit:
                raise ServeError(413, f"request body exceeds the limit of {limit} bytes", code="request_too_large")
            parts.append(part)
    except ClientDisconnect:
        raise ClientGone from None
    body = b"".join(parts)
    if not body:
        raise ServeError(400, "the request has no body; send a JSON object", code="invalid_json")
    try:
        value = json.loads(body)
    except RecursionError:
        value = _TOO_DEEP
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServeError(400, f"the request body is not valid JSON: {exc}", code="invalid_json") from None
    if value is _TOO_DEEP or _deeper_than(value, _MAX_DEPTH):
        # Handlers, validation and copies recurse over the body: refuse it here, not with a 500.
        raise ServeError(400, f"the request body is nested deeper than {_MAX_DEPTH} levels", code="invalid_json")
    return value


_MAX_DEPTH = 64
_TOO_DEEP = object()


def _deeper_than(value: Any, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _settle(*tasks: asyncio.Future[Any]) -> None:
    """Cancel ``tasks`` and wait for them: a cancelled call still writes its audit record."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def guarded(receive: Receive, call: Awaitable[T], deadline: float, timeout: float) -> T:
    """Run ``call`` until it finishes, the client disconnects or ``deadline`` (loop time)
    passes; the last two cancel it.

    :raises ClientGone: the client went away.
    :raises ServeError: 504 when the deadline passed.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(call)
    watch = loop.create_task(_disconnected(receive))
    try:
        remaining = max(0.0, deadline - loop.time())
        done, _ = await asyncio.wait((task, watch), timeout=remaining, return_when="FIRST_COMPLETED")
    except asyncio.CancelledError:  # the server is stopping: end the call as cancelled
        await _settle(task, watch)
        raise
    if task in done:
        watch.cancel()
        return task.result()
    await _settle(task, watch)
    if watch in done:
        raise ClientGone
    raise ServeError(
        504, f"the request did not finish within {timeout:g} s", kind="timeout", code="timeout", retry=False
    )


async def gather_all(receive: Receive, calls: Sequence[Awaitable[T]], deadline: float, timeout: float) -> list[T]:
    """:func:`guarded` for several calls at once (``n`` choices, Vertex instances); the
    first failure cancels the rest."""
    if len(calls) == 1:
        return [await guarded(receive, calls[0], deadline, timeout)]

    async def together() -> list[T]:
        tasks = [asyncio.ensure_future(c) for c in calls]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            await _settle(*tasks)
            raise

    return await guarded(receive, together(), deadline, timeout)


class EventStream(Response):
    """A streamed body whose production stops when the client disconnects or the deadline
    passes (its generator is then closed, which cancels the model's stream).

    :param chunks: the encoded body pieces; their generator handles model errors itself.
    :param deadline: loop time at which the stream is cut.
    :param on_timeout: the last piece to send when the deadline cut the stream.
    """

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        *,
        media_type: str,
        deadline: float,
        on_timeout: Callable[[], bytes],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.chunks = chunks
        self.deadline = deadline
        self.on_timeout = on_timeout
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no", **(headers or {})})

    async def _pump(self, send: Send) -> None:
        chunks = self.chunks
        try:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            # Interrupted while sending (cancelled, or the socket closed): close the
            # generator too, which closes the model's stream and audits the cancel.
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        loop = asyncio.get_running_loop()
        pump = loop.create_task(self._pump(send))
        watch = loop.create_task(_disconnected(receive))
        try:
            done, _ = await asyncio.wait(
                (pump, watch), timeout=max(0.0, self.deadline - loop.time()), return_when="FIRST_COMPLETED"
            )
        except asyncio.CancelledError:  # shutdown ran out of drain time
            await _settle(pump, watch)
            raise
        if pump in done:
            watch.cancel()
            error = pump.exception()
            if error is None:
                await _send_last(send, b"")
            elif not isinstance(error, OSError):  # OSError: the client is gone, nothing to say
                log.error("a streamed response failed", exc_info=error)
            return
        await _settle(pump, watch)
        if watch not in done:  # the deadline passed: say so in the stream's own format
            await _send_last(send, self.on_timeout())


async def _send_last(send: Send, body: bytes) -> None:
    try:
        if body:
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass  # the client left just now


# -- request fields ----------------------------------------------------------------------------


def opt_int(body: Mapping[str, Any], key: str, *, low: int | None = None, high: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    # Vertex carries predict instances as protobuf Values: integers arrive as doubles.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(key, f"'{key}' must be an integer, got {type(value).__name__}")
    if low is not None and value < low:
        raise invalid(key, f"'{key}' must be at least {low}, got {value}")
    if high is not None and value > high:
        raise invalid(key, f"'{key}' must be at most {high}, got {value}")
    return value


def opt_float(body: Mapping[str, Any], key: str, *, low: float, high: float, low_open: bool = False) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise invalid(key, f"'{key}' must be a number, got {value!r}")
    if value < low or (low_open and value == low) or value > high:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise invalid(key, f"'{key}' must be in {interval}, got {value:g}")
    return float(value)


def opt_bool(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise invalid(key, f"'{key}' must be true or false, got {value!r}")


def opt_stop(body: Mapping[str, Any], key: str, *, most: int = 16) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
        raise invalid(key, f"'{key}' must be a non-empty string or a list of them")
    if len(items) > most:
        raise invalid(key, f"'{key}' has {len(items)} sequences; at most {most} are accepted")
    return items or None


def opt_dict(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(key, f"'{key}' must be an object")
    return value
