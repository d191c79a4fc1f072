"""Suite 2.6: sampling parameters lost on the way out (``top_k`` dropped by a plugin whose
body builder lists the parameters it knows, instead of sent or refused), and plugins whose
module does work when byom loads it to discover them (``at_import``: the module the check
imports in its own interpreter, never in this one)."""

from __future__ import annotations

from typing import Any, ClassVar

from byom_sdk import GenerateRequest

from ._http import EchoHTTPProvider

__all__ = [
    "DropsTopK",
    "HeavyAtImport",
    "HeavyInDiscoveryHook",
    "NetworkAtImport",
    "PrintsAtImport",
    "PrintsToFileDescriptor",
    "RefusesTopK",
    "SlowAtImport",
    "ThreadAtImport",
]

_AT_IMPORT = __name__.rsplit(".", 1)[0] + ".at_import"


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


class HeavyAtImport(EchoHTTPProvider):
    """Imports botocore at module level: every application with the plugin installed loads it at start."""

    at_import: ClassVar[str] = f"{_AT_IMPORT}.heavy"


class ThreadAtImport(EchoHTTPProvider):
    """Starts a background thread at import, in every application that has the plugin installed."""

    at_import: ClassVar[str] = f"{_AT_IMPORT}.thread"


class NetworkAtImport(EchoHTTPProvider):
    """Resolves a host and connects at import: before any trust policy was read."""

    at_import: ClassVar[str] = f"{_AT_IMPORT}.network"


class PrintsAtImport(EchoHTTPProvider):
    """Prints a banner at import: into every CLI's and every server's output."""

    at_import: ClassVar[str] = f"{_AT_IMPORT}.prints"


class SlowAtImport(EchoHTTPProvider):
    """Spends 2.2 s at import: every application with the plugin installed starts that much later."""

    at_import: ClassVar[str] = f"{_AT_IMPORT}.slow"


class HeavyInDiscoveryHook(EchoHTTPProvider):
    """Its module imports nothing heavy, but its byom_model_providers hook, called at discovery, loads botocore."""

    at_import: ClassVar[str] = f"{_AT_IMPORT}.hook"


class PrintsToFileDescriptor(EchoHTTPProvider):
    """Writes a banner with os.write(1, ...) at import: past sys.stdout, into the process's output."""

    at_import: ClassVar[str] = f"{_AT_IMPORT}.fd"
