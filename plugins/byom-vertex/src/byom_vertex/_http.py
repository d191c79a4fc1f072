"""Raw REST calls (``:rawPredict``, ``:streamRawPredict``) with the container's own body.

The GAPIC REST transport sends raw calls as HttpBody JSON (``{"httpBody": {"data":
base64}}``) and parses the answer as HttpBody JSON too; the service answers raw calls with
the container's body (what curl users and Google's high-level SDK, which also posts raw
bodies through ``AuthorizedSession``, see). So with ``transport = "rest"`` raw calls go
through google-auth's ``AuthorizedSession`` by default (``rest_raw = "http"``): the same
credentials object, refreshed the same way. HTTP errors are turned into
``google.api_core`` exceptions with ``from_http_response`` so one mapping serves all paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._config import VertexConfig

__all__ = ["RawHttp"]


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

    def _post(self, verb: str, body: bytes, content_type: str, timeout: float, *, stream: bool) -> Any:
        from google.api_core import exceptions as gexc

        response = self._session.post(
            f"{self._url}:{verb}", data=body, headers={"Content-Type": content_type}, timeout=timeout, stream=stream
        )
        if response.status_code >= 400:
            try:
                raise gexc.from_http_response(response)
            finally:
                response.close()
        return response

    def raw_predict(self, body: bytes, content_type: str, timeout: float) -> bytes:
        response = self._post("rawPredict", body, content_type, timeout, stream=False)
        return bytes(response.content)

    def stream_raw_predict(self, body: bytes, content_type: str, timeout: float) -> Iterator[bytes]:
        """The body's bytes as they arrive; closing the iterator closes the connection."""
        response = self._post("streamRawPredict", body, content_type, timeout, stream=True)
        try:
            yield from response.iter_content(chunk_size=None)
        finally:
            response.close()

    def close(self) -> None:
        self._session.close()
