"""A container personality that is a real container: every call goes to its predict route.

With it the local prediction service plays Vertex AI in front of any container that
honours the custom-container contract — ``byom serve --profile vertex`` included — as the
service does: ``predict`` bodies (``{"instances", "parameters"}``) and raw bodies
(rawPredict, streamRawPredict) are posted to ``AIP_PREDICT_ROUTE`` unchanged, the answer
comes back as is (streams chunk by chunk), and a non-2xx answer becomes the matching gRPC
status / HTTP error.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from ._containers import Container
from ._server import _Abort

__all__ = ["ForwardingContainer"]

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _failure(status: int, body: bytes) -> _Abort:
    message = body.decode("utf-8", "replace")[:1000]
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping):
        error = parsed.get("error")
        if isinstance(error, Mapping):
            message = str(error.get("message") or error)
        elif error is not None:
            message = str(error)
    return _Abort(_STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"), status, message)


class ForwardingContainer(Container):
    """Forward to the container at ``url``; ``predict_route`` is its ``AIP_PREDICT_ROUTE``.

    :param model_id: what the server reports as the deployed model (``X-Vertex-AI-Model``).
    :param timeout: seconds to wait for the container.
    """

    name = "forward"

    def __init__(
        self, url: str, *, predict_route: str = "/predict", model_id: str = "container", timeout: float = 60.0
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"container url must be http://HOST:PORT, got {url!r}")
        self.url = url
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.route = predict_route if predict_route.startswith("/") else "/" + predict_route
        self._model_id = model_id
        self.timeout = timeout

    @property
    def model_id(self) -> str:
        return self._model_id

    def _post(self, body: Any) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("POST", self.route, body=json.dumps(body), headers={"Content-Type": "application/json"})
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            raise _Abort("UNAVAILABLE", 503, f"container unreachable: {exc}") from exc
        if not 200 <= response.status < 300:
            data = response.read()
            connection.close()
            raise _failure(response.status, data)
        return connection, response

    def _json(self, body: Any) -> Any:
        connection, response = self._post(body)
        try:
            return json.loads(response.read())
        finally:
            connection.close()

    def predict(self, body: Mapping[str, Any]) -> dict[str, Any]:
        answer = self._json(body)
        if not isinstance(answer, dict) or "predictions" not in answer:
            raise _Abort("INTERNAL", 500, "the container's answer has no 'predictions'")
        return answer

    def raw(self, body: Any) -> Any:
        return self._json(body)

    def stream(self, body: Any) -> Iterator[bytes]:
        connection, response = self._post(body)
        try:
            while True:
                try:
                    chunk = response.read1(65536)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Abort("UNAVAILABLE", 503, f"the container's stream broke: {exc!r}") from exc
                if not chunk:
                    return
                yield chunk
        finally:
            connection.close()
