"""Credentials that leave the plugin (suite 2.5): an API key in the provider's repr, in the
``details`` of its errors, in a query string every HTTP log line prints, in a DEBUG line.
And calls that change the application's process: the global ``random`` seeded from the
prompt or drawn from for jitter, an environment variable set per call.

:class:`KeyedEcho` is the correct control: the same echo provider holding its key in a
``SecretStr`` and sending it only as an ``Authorization`` header."""

from __future__ import annotations

import logging
import os
import random
import time
from typing import Any

import httpx
from pydantic import SecretStr

from byom_sdk import ProviderError

from ._http import EchoHTTPProvider

__all__ = [
    "JitterFromGlobalRandom",
    "KeyInErrorDetails",
    "KeyInQueryString",
    "KeyInRepr",
    "KeyLoggedAtDebug",
    "KeyedEcho",
    "KeyedEchoErrors",
    "KeyedEchoRepr",
    "PrintsEachRequest",
    "SeedsGlobalRandom",
    "SetsEnvironmentPerCall",
]

#: what a deployment's key looks like (the echo server accepts any).
API_KEY = "sk-echo-4f1c9a27d8e3b6051c7e"

log = logging.getLogger("echo_http_plugin")


class KeyedEcho(EchoHTTPProvider):
    """A correct provider with an API key: a ``SecretStr``, sent as a bearer header only."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, api_key: str = API_KEY) -> None:
        super().__init__(base_url, timeout=timeout)
        self.api_key = SecretStr(api_key)
        self._client.headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"


class KeyedEchoErrors(KeyedEcho):
    """The correct keyed provider, as the control of ``secrets.errors``."""


class KeyedEchoRepr(KeyedEcho):
    """The correct keyed provider, as the control of ``secrets.repr``."""


class KeyInRepr(KeyedEcho):
    """A ``__repr__`` written for debugging that prints the whole configuration, key included."""

    def __repr__(self) -> str:
        return f"KeyInRepr(base_url={self.base_url!r}, api_key={self.api_key.get_secret_value()!r})"


class KeyInErrorDetails(KeyedEcho):
    """Mapped errors carry the request's headers in ``details`` "to help debugging"."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        try:
            return super().post(path, body, timeout)
        except ProviderError as exc:
            exc.details["request_headers"] = dict(self._client.headers)
            raise


class KeyInQueryString(KeyedEcho):
    """The key sent as ``?key=`` (as some cloud APIs accept it): every URL httpx logs at INFO
    carries it."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, api_key: str = API_KEY) -> None:
        super().__init__(base_url, timeout=timeout, api_key=api_key)
        del self._client.headers["Authorization"]
        self._client.params = self._client.params.set("key", api_key)


class KeyLoggedAtDebug(KeyedEcho):
    """Each request logged at DEBUG with its headers."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        log.debug("POST %s headers=%s", path, dict(self._client.headers))
        return super().post(path, body, timeout)


class SeedsGlobalRandom(EchoHTTPProvider):
    """A "reproducible" request nonce: ``random.seed`` from the prompt, then ``random.random()``
    — every call resets the application's random sequence."""

    def payload(self, request: Any, *, stream: bool) -> dict[str, Any]:
        random.seed(len(request.prompt or "") + len(request.messages or ()))
        return {**super().payload(request, stream=stream), "nonce": random.random()}


class JitterFromGlobalRandom(EchoHTTPProvider):
    """A little jitter before each request, drawn from the module-level ``random``."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        time.sleep(random.random() / 1000)
        return super().post(path, body, timeout)


class SetsEnvironmentPerCall(EchoHTTPProvider):
    """Hands the request count to a helper through an environment variable, set on every call."""

    calls = 0

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        type(self).calls += 1
        os.environ["ECHO_HTTP_CALLS"] = str(self.calls)
        return super().post(path, body, timeout)


class PrintsEachRequest(EchoHTTPProvider):
    """A debugging ``print`` left in: each request's path and body on standard output."""

    def post(self, path: str, body: dict[str, Any], timeout: httpx.Timeout) -> dict[str, Any]:
        print(f"echo-http POST {path} {body}")  # the defect
        return super().post(path, body, timeout)
