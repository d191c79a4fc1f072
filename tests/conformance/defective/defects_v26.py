"""Sampling parameters lost on the way out (suite 2.6): ``top_k`` dropped by a plugin whose
body builder lists the parameters it knows, instead of sent or refused."""

from __future__ import annotations

from typing import Any

from byom_sdk import GenerateRequest

from ._http import EchoHTTPProvider

__all__ = ["DropsTopK", "RefusesTopK"]


class DropsTopK(EchoHTTPProvider):
    """Builds its body from max_tokens, temperature and top_p only: a caller's top_k is sent nowhere."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        body.pop("top_k", None)
        return body


class RefusesTopK(EchoHTTPProvider):
    """For an API that rejects top_k: refuses a request that sets it, before it is sent (correct)."""

    def payload(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        if request.top_k is not None:
            from byom_sdk import BadRequest

            raise BadRequest("echo: this API takes no top_k; leave it unset", provider="echo-http")
        return super().payload(request, stream=stream)
