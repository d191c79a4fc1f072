"""A personality that is a real container: requests are forwarded to its ``/invocations``.

With it the local runtime server plays SageMaker in front of any container that honours
the bring-your-own-container contract — ``byom serve --profile sagemaker`` included — the
way the real service does: the body, ``Content-Type``, ``Accept`` (from
``X-Amzn-SageMaker-Accept`` on streaming calls) and the custom attributes are passed
through, the container's answer comes back as is, a non-2xx answer becomes a
``ModelError`` with ``OriginalStatusCode`` / ``OriginalMessage``, and a streamed answer is
cut into ``PayloadPart`` events as it arrives.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from byom_sdk import Model

from ._personalities import ContainerFailure, Personality

__all__ = ["ForwardingPersonality"]

#: request headers SageMaker passes on to the container (lower-case).
_PASSED = ("content-type", "x-amzn-sagemaker-custom-attributes", "x-amzn-sagemaker-inference-id")


def _original(status: int, body: bytes) -> ContainerFailure:
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, Mapping):
        parsed = {"error": body.decode("utf-8", "replace")[:1000]}
    return ContainerFailure(status, parsed)


class _Forwarded:
    """The container's streamed body, read as it arrives; the request is sent on the first
    ``next()`` so a failing container is reported before any PayloadPart."""

    def __init__(self, owner: ForwardingPersonality, body: bytes, headers: Mapping[str, str]) -> None:
        self._owner = owner
        self._body = body
        self._headers = headers
        self._connection: http.client.HTTPConnection | None = None
        self._response: http.client.HTTPResponse | None = None
        #: the container's Content-Type (SageMaker returns it as X-Amzn-SageMaker-Content-Type).
        self.content_type: str | None = None

    def __iter__(self) -> _Forwarded:
        return self

    def __next__(self) -> bytes:
        if self._response is None:
            self._connection, self._response = self._owner._send(self._body, self._headers, streaming=True)
            self.content_type = self._response.getheader("Content-Type")
        try:
            chunk = self._response.read1(65536)
        except (OSError, http.client.HTTPException) as exc:
            # The container broke off mid-stream: SageMaker reports ModelStreamError.
            self.close()
            raise ContainerFailure(502, {"error": f"the container's stream broke: {exc!r}"}) from exc
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class ForwardingPersonality(Personality):
    """Forward every call to the container at ``url`` (``http://127.0.0.1:PORT``).

    :param codec: the codec clients should use for it (``server.model_config`` reads it).
    :param timeout: seconds to wait for the container (SageMaker's own limit is 60).
    """

    def __init__(self, url: str, *, codec: str = "tgi", timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"container url must be http://HOST:PORT, got {url!r}")
        self.url = url
        self.name = codec
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.path = (parsed.path.rstrip("/") or "") + "/invocations"
        self.timeout = timeout

    def _send(
        self, body: bytes, headers: Mapping[str, str], *, streaming: bool
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        sent = {name: headers[name] for name in _PASSED if name in headers}
        accept = headers.get("x-amzn-sagemaker-accept" if streaming else "accept")
        if accept:
            sent["accept"] = accept
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("POST", self.path, body=body, headers=sent)
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            raise ContainerFailure(502, {"error": f"container unreachable: {exc}"}) from exc
        if not 200 <= response.status < 300:
            data = response.read()
            connection.close()
            raise _original(response.status, data)
        return connection, response

    def invoke(self, model: Model, body: bytes, headers: Mapping[str, str]) -> tuple[bytes, str]:
        connection, response = self._send(body, headers, streaming=False)
        try:
            return response.read(), response.getheader("Content-Type") or "application/octet-stream"
        finally:
            connection.close()

    def stream(self, model: Model, body: bytes, headers: Mapping[str, str]) -> Iterator[bytes]:
        return _Forwarded(self, body, headers)
