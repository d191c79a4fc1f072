"""Raw REST calls (``:rawPredict``, ``:streamRawPredict``) with the container's own body.

The GAPIC REST transport sends raw calls as HttpBody JSON (``{"httpBody": {"data":
base64}}``) and parses the answer as HttpBody JSON too; the service answers raw calls with
the container's body (what curl users and Google's high-level SDK, which also posts raw
bodies through ``AuthorizedSession``, see). So with ``transport = "rest"`` raw calls go
through google-auth's ``AuthorizedSession`` by default (``rest_raw = "http"``): the same
credentials object, refreshed the same way. HTTP errors are turned into
``google.api_core`` exceptions with ``from_http_response`` so one mapping serves all paths.

``requests`` bounds each socket read by the timeout, not the call: a stream trickling a
piece every 300 ms would outlive a 1 s budget forever. A watchdog closes the response when
the call's time is up, and the stream ends as a ``Timeout``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from byom_sdk import Timeout

from ._config import VertexConfig

__all__ = ["RawHttp", "read_container_errors", "refuse_redirects"]


def refuse_redirects(session: Any, where: str) -> None:
    """Make ``session`` (a ``requests`` session: google-auth's ``AuthorizedSession``, which
    follows redirects by default, re-POSTing the body on 307/308) refuse any redirect.

    The residency gate judged the configured host; a redirect would send the prompt to a
    host nobody judged (another region, or plain HTTP). The request did reach the
    configured host: a ``BadRequest`` (code ``redirect``) with ``request_sent``, never a
    refusal before sending. ``where`` names the endpoint.
    """
    from byom_sdk import BadRequest
    from byom_sdk.trust.residency import redact_url

    def refuse(response: Any, *args: Any, **kwargs: Any) -> Any:
        if not response.is_redirect:
            return response
        target = redact_url(str(response.headers.get("location", "")))
        status = response.status_code
        response.close()
        raise BadRequest(
            f"{where} answered {status} with a redirect to {target!r}: byom does not follow redirects "
            "(the residency gate judged only the configured host); configure the endpoint's own URL",
            provider="vertex",
            status_code=status,
            code="redirect",
            request_sent=True,
        )

    session.hooks["response"].append(refuse)


def read_container_errors(session: Any) -> None:
    """Make ``session`` raise a container's own error object (TGI's string ``error``,
    vLLM's ``{"object": "error"}``) as a google-api-core exception read by
    :func:`_http_error`, before the GAPIC REST client reads it with ``from_http_response``
    (which fails on them with an AttributeError: a 429 or 503 from the container lost its
    class, neither throttled nor retried). Other error answers pass untouched: a 401 is
    google-auth's to refresh the token on and resend, and Google's own error shape is the
    client's to read."""

    def read(response: Any, *args: Any, **kwargs: Any) -> Any:
        from google.api_core import exceptions as gexc

        if response.status_code < 400 or response.status_code == 401:
            return response
        try:
            body = response.json()
        except ValueError:
            return response
        if isinstance(body, dict) and (isinstance(body.get("error"), str) or body.get("object") == "error"):
            try:
                raise _http_error(response)
            finally:
                response.close()
        # Any other JSON (a list, ``{"error": null}``, details that are not objects) makes
        # ``from_http_response`` fail with an AttributeError in the GAPIC client: a 503 would
        # lose its class and its retry. Such a body is read here, by its status.
        try:
            gexc.from_http_response(response)
        except Exception:  # noqa: BLE001 - whatever google-api-core trips on, the status stands
            try:
                raise _http_error(response)
            finally:
                response.close()
        return response

    session.hooks["response"].append(read)


class RawHttp:
    """Posts raw bodies to ``{host}/v1/{endpoint}:rawPredict`` / ``:streamRawPredict``."""

    def __init__(self, config: VertexConfig, credentials: Any) -> None:
        from google.auth.transport.requests import AuthorizedSession

        host = config.host.rstrip("/")
        if "://" not in host:
            host = f"{'http' if config.insecure else 'https'}://{host}"
        self._url = f"{host}/v1/{config.resource}"
        self._session = AuthorizedSession(credentials)
        self._session.headers["x-goog-request-params"] = f"endpoint={config.resource}"
        refuse_redirects(self._session, f"vertex endpoint {config.resource}")

    def _post(self, verb: str, body: bytes, content_type: str, timeout: float, *, stream: bool) -> Any:
        response = self._session.post(
            f"{self._url}:{verb}", data=body, headers={"Content-Type": content_type}, timeout=timeout, stream=stream
        )
        if response.status_code >= 400:
            try:
                raise _http_error(response)
            finally:
                response.close()
        return response

    def raw_predict(self, body: bytes, content_type: str, timeout: float) -> bytes:
        response = self._post("rawPredict", body, content_type, timeout, stream=False)
        return bytes(response.content)

    def stream_raw_predict(self, body: bytes, content_type: str, timeout: float) -> Iterator[bytes]:
        """The body's bytes as they arrive, within ``timeout`` for the whole stream; read to
        the end, so the connection returns to the pool."""
        deadline = time.monotonic() + timeout
        response = self._post("streamRawPredict", body, content_type, timeout, stream=True)
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), response.close)
        watchdog.daemon = True
        watchdog.start()
        try:
            for chunk in response.iter_content(chunk_size=None):
                if time.monotonic() >= deadline:
                    break
                yield chunk
        except Exception:
            if time.monotonic() < deadline:
                raise
        finally:
            watchdog.cancel()
            response.close()
        if time.monotonic() >= deadline:
            raise Timeout(
                f"{self._url}:streamRawPredict: the call's {timeout:g} s ran out while the stream was coming",
                provider="vertex",
                code="Deadline",
            )

    def close(self) -> None:
        self._session.close()


def _http_error(response: Any) -> Exception:
    """The google-api-core exception of an error response. Containers answer in their own
    shapes (TGI's ``{"error": "...", "error_type": "overloaded"}``, vLLM's
    ``{"object": "error", "message": ...}``), which ``from_http_response`` cannot read (it
    fails with an AttributeError on a string ``error``): their message is read here."""
    from google.api_core import exceptions as gexc

    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        message = None
        if isinstance(error, str) and error:
            kind = body.get("error_type")
            message = f"{error} ({kind})" if kind else error
        elif body.get("object") == "error" and body.get("message"):
            message = str(body["message"])
        if message is not None:
            refused: Exception = gexc.from_http_status(response.status_code, message, response=response)
            return refused
    try:
        parsed: Exception = gexc.from_http_response(response)
    except Exception:  # noqa: BLE001 - a body google-api-core cannot parse still has a status
        text = response.text[:500] if isinstance(response.text, str) else ""
        parsed = gexc.from_http_status(response.status_code, text or "error", response=response)
    return parsed
