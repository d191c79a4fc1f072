"""One request's life: its body (size-limited), its deadline, the client going away, its
errors, and streamed responses that stop generating when nobody reads them.

Every route runs its model call through :func:`guarded`, which races the call against the
request's deadline and the client disconnecting: either one cancels the call, and the
pipeline then records it as ``cancelled`` in the audit. Streams use :class:`EventStream`,
which does the same for the whole streamed body.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import re
from collections import deque
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

from ._server import ABORT_EXTENSION

__all__ = [
    "ClientGone",
    "EventStream",
    "ServeError",
    "classify",
    "dumps",
    "frames_of",
    "guarded",
    "read_json",
    "redact",
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
    :param close: end the connection after the answer (``Connection: close``): the request's
        body was not read to its end, so the connection cannot carry another request.
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
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code
        self.retry_after = retry_after
        self.retry = retry
        self.close = close

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.retry_after is not None:
            out["retry-after"] = str(max(0, math.ceil(self.retry_after)))
        if self.retry is not None:
            out["x-should-retry"] = "true" if self.retry else "false"
        if self.close:
            out["connection"] = "close"
        return out


def invalid(param: str, message: str) -> ServeError:
    """A 400 naming the request field at fault."""
    return ServeError(400, message, param=param, code="invalid_value")


# -- what an upstream failure may tell the caller ------------------------------------------
#
# A provider's message describes the serving side: its endpoints, addresses, account, roles
# and sometimes credentials. A 5xx says none of it (a generic line naming the model, the
# code and the request id; the server log has the full text); a 4xx keeps its message, with
# everything below replaced.

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>)]+")
_ARN = re.compile(r"\barn:aws[a-zA-Z-]*:[^\s'\"<>,;)]*")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b")
_IPV6 = re.compile(
    r"\[[0-9A-Fa-f:.]+(?:%[\w.-]+)?\](?::\d{1,5})?"  # [2001:db8::1]:443
    r"|(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?:%[\w.-]+)?(?![\w:])"
)
#: host:port: a dotted name, a name with a letter and a digit or hyphen (``gpu-7:8000``),
#: or localhost (not ``temperature:2`` or a time of day).
_HOST_PORT = re.compile(
    r"(?<![\w.@/-])(?:localhost|(?=[\w-]*[A-Za-z])[A-Za-z0-9-]*[0-9-][A-Za-z0-9-]*|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
    r":\d{2,5}\b"
)
_ECR_HOST = re.compile(r"\b\d{12}\.dkr\.ecr\.[\w.-]+")
_ACCOUNT = re.compile(r"(?i)\b(account(?:[\s_-]?(?:id|number|no\.?))?)(\s*[:#=]?\s*['\"]?)\d{12}\b")
_AUTH_SCHEME = re.compile(r"\b([Bb]earer|BEARER|Basic)(\s+)([A-Za-z0-9._~+/-]{8,}=*)")
_SECRET_FIELD = re.compile(
    r"(?i)\b((?:x-)?api[_-]?key|access[_-]?key(?:[_-]?id)?|secret(?:[_-]?access)?(?:[_-]?key)?|client[_-]?secret"
    r"|session[_-]?token|access[_-]?token|token|password|passwd|authorization)"
    r"([\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]{4,}"
)
_KNOWN_TOKEN = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{16,}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|xox[abpr]-[A-Za-z0-9-]{10,}|ya29\.[A-Za-z0-9_-]{20,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
)
_OPAQUE = re.compile(r"(?<![\w+/])[A-Za-z0-9+/]{32,}={0,2}(?![\w+/])")


def _ipv6(match: re.Match[str]) -> str:
    text = match.group(0)
    core = text[1:].split("]", 1)[0] if text.startswith("[") else text
    try:
        ipaddress.IPv6Address(core.split("%", 1)[0])
    except ValueError:
        return text  # 10:20:30, a MAC-like word: not an address
    return "<upstream>"


def _credential(match: re.Match[str]) -> str:
    scheme, space, token = match.groups()
    # "Basic validation failed" is prose; a credential has digits or mixed case.
    mixed_case = token not in (token.lower(), token.upper())
    if scheme == "Basic" and not (mixed_case or any(c.isdigit() for c in token)):
        return match.group(0)
    return f"{scheme}{space}<redacted>"


def _opaque(match: re.Match[str]) -> str:
    text = match.group(0)
    mixed = any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)
    return "<redacted>" if mixed else text


def redact(message: str) -> str:
    """``message`` without the serving side's topology and secrets: URLs, ARNs, IPv4 and
    IPv6 addresses, host:port, AWS account ids, bearer tokens, ``key=value`` secrets and
    token-looking strings (the server log keeps the original)."""
    message = _URL.sub("<upstream>", message)
    message = _ARN.sub("<arn>", message)
    message = _ECR_HOST.sub("<upstream>", message)
    message = _IPV6.sub(_ipv6, message)
    message = _IPV4.sub("<upstream>", message)
    message = _HOST_PORT.sub("<upstream>", message)
    message = _ACCOUNT.sub(r"\1\2<account>", message)
    message = _AUTH_SCHEME.sub(_credential, message)
    message = _SECRET_FIELD.sub(r"\1\2<redacted>", message)
    message = _KNOWN_TOKEN.sub("<redacted>", message)
    return _OPAQUE.sub(_opaque, message)


#: what a 5xx says instead of the upstream's message, by its code. A ``SchemaError`` (502)
#: is the SDK's own account of the model's answer, not the provider's: it keeps its
#: message, redacted, as a 4xx does.
_HEADLINES = {
    "model_error": "the model failed",
    "provider_error": "the model's provider failed",
    "upstream_auth_error": "the model's provider refused the serving side's credentials",
    "unavailable": "the model is unavailable",
    "timeout": "the model did not answer in time",
    "audit_unavailable": "the audit log is unavailable",
}


def classify(error: BaseException, *, model: str | None = None, request_id: str | None = None) -> ServeError:
    """The status and wording of any failure; never a traceback on the wire, and never
    the serving side's topology: a 5xx from below the app says only what failed (the model
    alias, the code, the request id), its full text goes to the log at WARNING; a 4xx
    keeps its message, passed through :func:`redact`."""
    served = _classify(error)
    if served is error:
        return served  # the app's own wording
    if served.status >= 500 and served.code != "schema_error":
        # The log gets the text as it left the boundary: the restored message may quote
        # the caller's personal data back (a model echoing its input in an error).
        detail = (
            getattr(error, "masked_message", None)
            or getattr(error, "message", None)
            or str(error)
            or type(error).__name__
        )
        log.warning(
            "request %s%s failed (%d %s): %s",
            request_id or "-",
            f" to model '{model}'" if model else "",
            served.status,
            served.code or served.kind,
            detail,
        )
        what = _HEADLINES.get(served.code or "", "the request failed")
        about = [f"model '{model}'"] if model else []
        about.append(f"code {served.code or served.kind}")
        if request_id:
            about.append(f"request id {request_id}")
        served.message = f"{what} ({', '.join(about)}); the details are in the server log"
    else:
        served.message = redact(served.message)
    served.args = (served.message,)  # str() and repr() say only what the wire says
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
        return ServeError(503, error.message, kind="service_unavailable", code="audit_unavailable", retry=False)
    if isinstance(error, ByomError):
        return ServeError(500, error.message, kind="server_error", code="server_error", retry=False)
    log.error("unexpected error while serving a request", exc_info=error)
    return ServeError(500, "internal server error", kind="server_error", code="server_error", retry=False)


#: a UTF-16 surrogate code point: in a Python string it is always unpaired (a pair decodes
#: to one code point), and it is the only thing ``str.encode("utf-8")`` refuses.
_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON. A lone surrogate (from a model's answer, or echoed
    in a message) becomes U+FFFD rather than failing the answer: rendering an error must
    not itself become a 500."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode()


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


async def read_json(request: Request, limit: int, *, deadline: float, timeout: float) -> Any:
    """The body parsed as JSON, refusing bodies over ``limit`` bytes before reading them,
    compressed bodies (415: a gzip body would be parsed as garbage, or inflate past
    ``limit`` from a small upload), bodies that have not arrived by ``deadline`` (loop
    time; 408 and the connection closes: a client trickling its upload would otherwise hold
    a task and a socket for as long as it likes, since the server has no body timeout), and
    strings that cannot be encoded as UTF-8 (400 naming the field)."""
    headers = request.headers
    encoding = headers.get("content-encoding")
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        raise ServeError(
            415,
            f"Content-Encoding {encoding[:40]!r} is not supported: send the body uncompressed",
            param="content-encoding",
            code="unsupported_content_encoding",
        )
    declared = headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ServeError(400, "Content-Length is not a number", code="invalid_request") from None
        if size > limit:
            raise ServeError(413, f"the body of {size} bytes exceeds the limit of {limit}", code="request_too_large")
    remaining = max(0.0, deadline - asyncio.get_running_loop().time())
    try:
        body = await asyncio.wait_for(_read_body(request, limit), remaining)
    except asyncio.TimeoutError:
        raise ServeError(
            408,
            f"the request body did not arrive within {timeout:g} s (request_timeout)",
            code="request_timeout",
            retry=False,
            close=True,
        ) from None
    if not body:
        raise ServeError(400, "the request has no body; send a JSON object", code="invalid_json")
    try:
        value = json.loads(body)
    except RecursionError:
        value = _TOO_DEEP
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServeError(400, f"the request body is not valid JSON: {exc}", code="invalid_json") from None
    if value is _TOO_DEEP or _check_strings_and_depth(value):
        # Handlers, validation and copies recurse over the body: refuse it here, not with a 500.
        raise ServeError(400, f"the request body is nested deeper than {_MAX_DEPTH} levels", code="invalid_json")
    return value


async def _read_body(request: Request, limit: int) -> bytes:
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
    return b"".join(parts)


_MAX_DEPTH = 64
_TOO_DEEP = object()


def _check_strings_and_depth(value: Any) -> bool:
    """Whether ``value`` nests deeper than ``_MAX_DEPTH``; a string (key or value) holding a
    lone surrogate — valid JSON (``"\\ud800"``) but not encodable as UTF-8, so the audit
    log, the masking step and every answer echoing it would fail — is a 400 naming its
    field. One pass over the body: its strings are mostly ASCII, which ``isascii`` answers
    without reading them."""
    bad = False
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            if depth > _MAX_DEPTH:
                return True
            for key, child in item.items():
                if _unsendable(key):
                    bad = True
                if isinstance(child, (dict, list)):
                    pending.append((child, depth + 1))
                elif isinstance(child, str) and _unsendable(child):
                    bad = True
        elif isinstance(item, list):
            if depth > _MAX_DEPTH:
                return True
            for child in item:
                if isinstance(child, (dict, list)):
                    pending.append((child, depth + 1))
                elif isinstance(child, str) and _unsendable(child):
                    bad = True
        elif isinstance(item, str) and _unsendable(item):
            bad = True
    if bad:  # rare: only now are paths built, to name the field
        path = _unencodable_path(value)
        raise invalid(
            path,
            f"'{path}' holds a NUL character or a lone UTF-16 surrogate (such as \\ud800): text must be valid "
            "Unicode without NUL",
        )
    return False


def _unsendable(text: str) -> bool:
    """A lone surrogate (no UTF-8 for it) or a NUL (it truncates C-string servers; the
    contract's text refuses it, and metadata such as ``user`` would fail as a 500 later)."""
    return "\x00" in text or (not text.isascii() and _SURROGATE.search(text) is not None)


def _unencodable_path(value: Any) -> str:
    """The dotted path of the first string (or key) holding a surrogate; a key is written
    with the surrogate escaped, so the path itself can be sent."""
    pending: deque[tuple[Any, tuple[str, ...]]] = deque([(value, ())])
    while pending:
        item, path = pending.popleft()
        if isinstance(item, dict):
            for key, child in item.items():
                shown = key.encode("utf-8", "backslashreplace").decode()
                if _unsendable(key):
                    return ".".join((*path, shown))
                pending.append((child, (*path, shown)))
        elif isinstance(item, list):
            pending.extend((child, (*path, str(index))) for index, child in enumerate(item))
        elif isinstance(item, str) and _unsendable(item):
            return ".".join(path) or "body"
    return "body"


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
                await _send_last(scope, send, b"", max(0.0, self.deadline - loop.time()) + LAST_SEND_GRACE)
            elif not isinstance(error, OSError):  # OSError: the client is gone, nothing to say
                log.error("a streamed response failed", exc_info=error)
            return
        await _settle(pump, watch)
        if watch not in done:  # the deadline passed: say so in the stream's own format
            await _send_last(scope, send, self.on_timeout(), LAST_SEND_GRACE)


#: how long the last frame of a stream may wait, past the deadline, for a client that
#: stopped reading (its socket buffers are full): then the connection is dropped.
LAST_SEND_GRACE = 2.0


async def _send_last(scope: Scope, send: Send, body: bytes, grace: float) -> None:
    async def last() -> None:
        if body:
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    try:
        await asyncio.wait_for(last(), grace)
    except asyncio.TimeoutError:  # before OSError: TimeoutError is one since Python 3.11
        # A send waiting for the client to read would hold this task, the connection and
        # its buffers for as long as the client stays connected: drop the connection.
        log.warning("a stream's client stopped reading: its connection is dropped")
        extension = (scope.get("extensions") or {}).get(ABORT_EXTENSION)
        abort = extension.get("abort") if isinstance(extension, dict) else None
        if abort is not None:
            abort()
            await asyncio.sleep(0)  # the server sees the connection lost before the task ends
        # Without the extension (another server) the task ends with the response
        # incomplete, and the server closes the connection itself.
    except OSError:
        pass  # the client left just now


# -- request fields ----------------------------------------------------------------------------

#: where a mapping sits in the request: the dotted path of its parent (``""`` for the body),
#: or a function giving each key's full path (a Vertex instance merged over the request's
#: ``parameters`` names each field where it came from).
Where = str | Callable[[str], str]


def at(where: Where, key: str) -> str:
    """The dotted path of ``key`` in the mapping at ``where``: what a 400 names."""
    if callable(where):
        return where(key)
    return f"{where}.{key}" if where else key


def opt_int(
    body: Mapping[str, Any], key: str, *, low: int | None = None, high: int | None = None, where: Where = ""
) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    # Vertex carries predict instances as protobuf Values: integers arrive as doubles.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # The field's path is built only for an error: these run for every field of every request.
    if not isinstance(value, int) or isinstance(value, bool):
        field = at(where, key)
        raise invalid(field, f"'{field}' must be an integer, got {type(value).__name__}")
    if low is not None and value < low:
        field = at(where, key)
        raise invalid(field, f"'{field}' must be at least {low}, got {value}")
    if high is not None and value > high:
        field = at(where, key)
        raise invalid(field, f"'{field}' must be at most {high}, got {value}")
    return value


def opt_float(
    body: Mapping[str, Any], key: str, *, low: float, high: float, low_open: bool = False, where: Where = ""
) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        field = at(where, key)
        raise invalid(field, f"'{field}' must be a number, got {value!r}")
    if value < low or (low_open and value == low) or value > high:
        field = at(where, key)
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise invalid(field, f"'{field}' must be in {interval}, got {value:g}")
    return float(value)


def opt_bool(body: Mapping[str, Any], key: str, *, where: Where = "") -> bool | None:
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    field = at(where, key)
    raise invalid(field, f"'{field}' must be true or false, got {value!r}")


def opt_stop(body: Mapping[str, Any], key: str, *, most: int = 16, where: Where = "") -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
        field = at(where, key)
        raise invalid(field, f"'{field}' must be a non-empty string or a list of them")
    if len(items) > most:
        field = at(where, key)
        raise invalid(field, f"'{field}' has {len(items)} sequences; at most {most} are accepted")
    return items or None


def opt_dict(body: Mapping[str, Any], key: str, *, where: Where = "") -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        field = at(where, key)
        raise invalid(field, f"'{field}' must be an object")
    return value
