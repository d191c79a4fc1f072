"""JSON over HTTP with httpx, sync and async: the transport of every plain-HTTP provider.

One error mapping for every HTTP provider:

- status codes: 429 → ``Throttled`` and 503 → ``Unavailable`` (``Retry-After`` as
  seconds or an HTTP date in ``retry_after``, else ``retry-after-ms``, else OpenAI's
  ``x-ratelimit-reset-*``), 401/403 → ``AuthError``, 408 → ``Timeout``, 424 →
  ``ModelError`` (the generation failed; classed by the container's own status when Azure
  ML's gateway reports it), other 4xx → ``BadRequest`` (OpenAI's ``param`` named), other
  5xx → ``Unavailable``;
- the connection: a request this side cannot write (an illegal header value) →
  ``BadRequest``; cannot connect → ``Unavailable`` (nothing was sent: retryable); no answer
  within the read timeout → ``Timeout`` (not retried: the server may still be generating);
  the connection dropped while the answer came back → ``Unavailable`` with
  ``request_sent=True``, which the retry policy does not resend unless configured to.

The call's ``timeout`` bounds the whole call, unary answers and streams alike: a body whose
pieces keep arriving just inside the read timeout still ends when the call's time is up.
Bodies are read decoded (a server or proxy may compress them, streams included: httpx asks
for gzip and deflate). A redirect is not followed, and not taken for an answer: the residency
gate judged the configured host only (``BadRequest``, code ``redirect``, ``request_sent``).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import (
    AuthError,
    BadRequest,
    ByomError,
    ModelError,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
)
from .._types import EmbedRequest, GenerateRequest

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpTransport", "error_for_status", "retry_after_seconds", "retry_hint"]

Request = GenerateRequest | EmbedRequest


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_RATE_LIMIT_RESETS = ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


def _duration_seconds(value: str) -> float | None:
    """OpenAI's rate-limit reset durations: ``"20ms"``, ``"1s"``, ``"6m0s"``, ``"1h2m3.5s"``."""
    text = value.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(f"{n}{unit}" for n, unit in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[unit] for n, unit in parts)


def retry_hint(headers: Mapping[str, str]) -> float | None:
    """How long a server asks to wait: ``Retry-After``, else ``retry-after-ms`` (Azure
    OpenAI), else the longest of OpenAI's ``x-ratelimit-reset-*`` durations (whichever
    limit was hit, a retry before the later reset is refused again)."""
    hint = retry_after_seconds(headers.get("retry-after"))
    if hint is not None:
        return hint
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    resets = [d for name in _RATE_LIMIT_RESETS if (v := headers.get(name)) and (d := _duration_seconds(v)) is not None]
    return max(resets) if resets else None


def _message_of(body: Any) -> tuple[str, str | None]:
    """(message, code) from OpenAI ``{"error": {...}}``, TGI ``{"error": "...",
    "error_type"}``, FastAPI ``{"detail": ...}`` or Azure ``{"message": ...}`` bodies."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            code = error.get("code") or error.get("type")
            message = str(error.get("message") or error)
            param = error.get("param")
            if isinstance(param, str) and param and param not in message:
                message = f"{message} (param: {param})"  # the request field at fault, OpenAI's way
            return message, str(code) if code else None
        if isinstance(error, str):
            kind = body.get("error_type")
            return error, str(kind) if kind else None
        for key in ("detail", "message"):
            if key in body:
                return str(body[key]), None
    return (str(body)[:500] if body else "no error body"), None


#: Azure ML's 424 ("the model container failed") carries the container's own answer here.
_MODEL_ERROR_STATUS = "ms-azureml-model-error-statuscode"
_MODEL_ERROR_REASON = "ms-azureml-model-error-reason"


def error_for_status(
    status: int,
    content: bytes,
    *,
    retry_after: str | None = None,
    provider: str,
    where: str,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """The byom error for an HTTP error answer (``headers``: the answer's, for retry hints
    and a gateway's report of the container's own status)."""
    try:
        body: Any = json.loads(content) if content else None
    except (ValueError, RecursionError):
        body = content.decode("utf-8", "replace")[:500]
    message, code = _message_of(body)
    text = f"{where} answered HTTP {status}: {message}"
    details: dict[str, Any] = {"body": body} if isinstance(body, Mapping) else {}
    kind = status
    if status == 424 and headers is not None:
        inner = (headers.get(_MODEL_ERROR_STATUS) or "").strip()
        if inner.isdigit() and 400 <= int(inner) < 600:
            # The container answered that status itself (a 429 is its throttling, a 400 the
            # request's fault): the error is the container's, classed by its status.
            kind = int(inner)
            details["model_error_status"] = kind
            reason = headers.get(_MODEL_ERROR_REASON)
            if reason:
                details["model_error_reason"] = reason[:200]
            text = f"{text} (the model container answered HTTP {kind})"
    kwargs: dict[str, Any] = {"provider": provider, "status_code": status, "code": code, "details": details}
    hint = retry_hint(headers) if headers is not None else retry_after_seconds(retry_after)
    status = kind
    if status == 429:
        return Throttled(text, retry_after=hint, **kwargs)
    if status in (401, 403):
        return AuthError(text, **kwargs)
    if status == 408:
        return Timeout(text, **kwargs)
    if status == 424:
        return ModelError(text, **kwargs)
    if 400 <= status < 500:
        return BadRequest(text, **kwargs)
    return Unavailable(text, retry_after=hint, **kwargs)


def _without_userinfo(url: str) -> tuple[str, str | None]:
    """``url`` without ``user:password@``, and those as a Basic ``Authorization`` value."""
    import base64
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return urlunsplit(parts._replace(netloc=host)), f"Basic {token}"


def _deadline_passed(where: str, provider: str) -> Timeout:
    """The call's time ran out with the answer on its way (sent: not resent elsewhere)."""
    return Timeout(
        f"{where}: the call's time ran out while the answer was coming",
        provider=provider,
        code="Deadline",
        request_sent=True,
    )


def _transport_error(exc: Exception, *, provider: str, where: str, received: bool, late: bool) -> ProviderError:
    import httpx

    name = type(exc).__name__
    if late:
        return _deadline_passed(where, provider)
    if isinstance(exc, httpx.DecodingError):
        # The body's Content-Encoding (gzip, deflate, br) does not decode: the answer arrived
        # and cannot be read; resending would not make it readable.
        return ModelError(
            f"{where}: the answer's content encoding does not decode ({exc})", provider=provider, code=name
        )
    if isinstance(exc, httpx.LocalProtocolError):
        # This side could not write a valid request (a header value with a newline, say):
        # nothing was sent, and sending it again fails the same way.
        return BadRequest(f"{where}: the request cannot be sent: {exc}", provider=provider, code=name)
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return Unavailable(f"cannot connect to {where}: {exc}", provider=provider, code=name)
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(
            f"{where}: no answer within the read timeout; not retried, the server may still be generating ({name})",
            provider=provider,
            code=name,
            request_sent=True,
        )
    # The request went out; the connection broke while the answer was coming back.
    return Unavailable(
        f"{where}: the connection dropped {'mid-answer' if received else 'before the answer'} ({name}: {exc})",
        provider=provider,
        code=name,
        request_sent=True,
    )


class HttpTransport:
    """Posts JSON to ``base_url + routes[operation]``; streams the answer's bytes.

    :param base_url: the API root (``https://host/v1``).
    :param routes: operation (``generate``, ``embed``) → path under ``base_url``.
    :param headers: sent with every request (auth included).
    :param timeout: default read timeout; a call's own timeout lowers it.
    :param connect_timeout: TCP/TLS connect timeout.
    :param provider: names the provider in errors.

    Sync calls share one ``httpx.Client``; async calls one ``httpx.AsyncClient`` per event
    loop (httpx's async pools belong to the loop that made them), closed by ``aclose``.
    """

    streams_records = False

    def __init__(
        self,
        base_url: str,
        routes: Mapping[str, str],
        *,
        headers: Mapping[str, str],
        timeout: float,
        connect_timeout: float,
        provider: str,
    ) -> None:
        import httpx

        base_url, basic = _without_userinfo(base_url.rstrip("/"))
        self.base_url = base_url
        self.routes = dict(routes)
        self.provider = provider
        self._headers = {"Accept": "application/json", **headers}
        if basic is not None and not any(k.lower() == "authorization" for k in self._headers):
            # The URL's user:password as a header, as httpx would send it: a URL holding
            # them would print them in httpx's own request log line.
            self._headers["Authorization"] = basic
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._client: httpx.Client | None = httpx.Client(headers=self._headers, timeout=self._limits(None))
        self._async: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _limits(self, timeout: float | None) -> httpx.Timeout:
        import httpx

        read = self._timeout if timeout is None else min(timeout, self._timeout)
        return httpx.Timeout(read, connect=min(self._connect_timeout, read))

    def url(self, operation: str) -> str:
        return self.base_url + self.routes[operation]

    def _sync(self) -> httpx.Client:
        client = self._client
        if client is None:
            raise Unavailable(f"{self.base_url}: the transport is closed", provider=self.provider, retryable=False)
        return client

    async def _aclient(self) -> httpx.AsyncClient:
        import httpx

        if self._client is None:
            raise Unavailable(f"{self.base_url}: the transport is closed", provider=self.provider, retryable=False)
        loop = asyncio.get_running_loop()
        found = self._async.get(loop)
        if found is None:
            client = httpx.AsyncClient(headers=self._headers, timeout=self._limits(None))
            # The loop closes its async generators when it shuts down (asyncio.run does):
            # this one holds the loop's pool and closes it then, so an application that
            # never calls aclose() leaks no sockets.
            keeper = _close_with_loop(client)
            await keeper.__anext__()
            found = self._async.get(loop)
            if found is None:
                found = self._async[loop] = (client, keeper)
            else:  # another task of this loop built one meanwhile: keep that one
                await keeper.aclose()
        return found[0]

    def _raise_for(self, response: httpx.Response, content: bytes, url: str) -> None:
        if response.status_code < 400:  # 3xx: no answer, whatever its body says
            raise _not_an_answer(response, url, self.provider)
        raise error_for_status(
            response.status_code, content, provider=self.provider, where=url, headers=response.headers
        )

    @staticmethod
    def _json(content: bytes, url: str, provider: str) -> Any:
        try:
            return json.loads(content)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json can read
            raise ModelError(
                f"{url} answered with a body that is not JSON: {content[:200]!r}", provider=provider, code="DecodeError"
            ) from None

    # -- sync -----------------------------------------------------------------------------------

    def call(self, operation: str, body: Any, request: Request) -> Any:
        import httpx

        timeout = request.timeout
        url = self.url(operation)
        deadline = time.monotonic() + timeout if timeout is not None else None
        try:
            with self._sync().stream("POST", url, json=body, timeout=self._limits(timeout)) as response:
                parts = []
                for part in response.iter_bytes():
                    parts.append(part)
                    if deadline is not None and time.monotonic() >= deadline and _more_to_come(response):
                        raise _deadline_passed(url, self.provider)
                content = b"".join(parts)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, provider=self.provider, where=url, received=False, late=False) from exc
        if response.status_code >= 300:
            self._raise_for(response, content, url)
        return self._json(content, url, self.provider)

    def stream(self, body: Any, request: Request) -> Iterator[bytes]:
        """The answer's bytes as they arrive; closing the iterator closes the response."""
        import httpx

        url = self.url("generate")
        timeout = request.timeout
        deadline = time.monotonic() + timeout if timeout is not None else None
        received = False
        try:
            with self._sync().stream("POST", url, json=body, timeout=self._limits(timeout)) as response:
                if response.status_code >= 300:
                    self._raise_for(response, response.read(), url)
                watchdog = _Watchdog(response, deadline)
                try:
                    for chunk in response.iter_bytes():
                        received = True
                        if watchdog.expired():
                            raise _deadline_passed(url, self.provider)
                        yield chunk
                finally:
                    watchdog.cancel()
        except httpx.HTTPError as exc:
            late = deadline is not None and time.monotonic() >= deadline
            raise _transport_error(exc, provider=self.provider, where=url, received=received, late=late) from exc

    # -- async ----------------------------------------------------------------------------------

    async def acall(self, operation: str, body: Any, request: Request) -> Any:
        import httpx

        timeout = request.timeout
        url = self.url(operation)
        deadline = time.monotonic() + timeout if timeout is not None else None
        try:
            client = await self._aclient()
            async with client.stream("POST", url, json=body, timeout=self._limits(timeout)) as response:
                parts = []
                async for part in response.aiter_bytes():
                    parts.append(part)
                    if deadline is not None and time.monotonic() >= deadline and _more_to_come(response):
                        raise _deadline_passed(url, self.provider)
                content = b"".join(parts)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, provider=self.provider, where=url, received=False, late=False) from exc
        if response.status_code >= 300:
            self._raise_for(response, content, url)
        return self._json(content, url, self.provider)

    async def astream(self, body: Any, request: Request) -> AsyncIterator[bytes]:
        import httpx

        url = self.url("generate")
        timeout = request.timeout
        deadline = time.monotonic() + timeout if timeout is not None else None
        received = False
        try:
            client = await self._aclient()
            async with client.stream("POST", url, json=body, timeout=self._limits(timeout)) as response:
                if response.status_code >= 300:
                    self._raise_for(response, await response.aread(), url)
                chunks = response.aiter_bytes()
                while True:
                    try:
                        if deadline is None:
                            chunk = await chunks.__anext__()
                        else:
                            chunk = await asyncio.wait_for(chunks.__anext__(), max(0.0, deadline - time.monotonic()))
                    except StopAsyncIteration:
                        break
                    received = True
                    yield chunk
        except asyncio.TimeoutError as exc:
            raise _transport_error(exc, provider=self.provider, where=url, received=received, late=True) from exc
        except httpx.HTTPError as exc:
            raise _transport_error(exc, provider=self.provider, where=url, received=received, late=False) from exc

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        try:
            found = self._async.pop(asyncio.get_running_loop(), None)
            if found is not None:
                await found[0].aclose()
        finally:
            self.close()


def _more_to_come(response: httpx.Response) -> bool:
    """Whether a unary body still has bytes to come: a whole answer that arrived just past
    the deadline is kept (and an error answer is read whole: its status says more than a
    timeout would). A body without a length counts as unfinished."""
    if response.status_code >= 300:
        return False
    length = response.headers.get("content-length")
    return not (length is not None and length.isdigit() and response.num_bytes_downloaded >= int(length))


def _not_an_answer(response: httpx.Response, url: str, provider: str) -> ByomError:
    """A 3xx: no answer. A redirect is not followed (the residency gate judged only the
    configured host), and the request did reach that host: a ``BadRequest`` (the URL is
    not the endpoint's) with ``request_sent``, never a refusal before sending."""
    status = response.status_code
    location = response.headers.get("location")
    if location is not None:
        from ..trust.residency import redact_url

        return BadRequest(
            f"{url} answered {status} with a redirect to {redact_url(location)!r}: byom does not follow redirects "
            "(the residency gate judged only the configured host); configure the endpoint's own URL",
            provider=provider,
            status_code=status,
            code="redirect",
            request_sent=True,
        )
    return ModelError(
        f"{url} answered HTTP {status}, which is no answer", provider=provider, status_code=status, request_sent=True
    )


async def _close_with_loop(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await client.aclose()


class _Watchdog:
    """Closes a response when the call's time is up, so a read blocked on a slow stream
    returns (httpx's timeouts bound each read, not the whole stream)."""

    def __init__(self, response: httpx.Response, deadline: float | None) -> None:
        self._deadline = deadline
        self._timer: threading.Timer | None = None
        if deadline is not None:
            self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), response.close)
            self._timer.daemon = True
            self._timer.start()

    def expired(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
