"""``byom serve``: any configured model behind the OpenAI API, Salesforce's LLM Open
Connector and the SageMaker / Vertex container contracts, with the trust boundary in the
path (see docs/serve.md).

::

    from byom_sdk.serve import ServerThread, create_app

    app = create_app(client, profile="openai", api_keys=[{"key_env": "MY_KEY", "tenant": "acme"}])

Needs the ``serve`` extra (``pip install "byom-sdk[serve]"``: starlette and uvicorn).

Framework: Starlette, not FastAPI, chosen by measuring per-request overhead (2-core
machine, Python 3.11, starlette 1.10, fastapi 0.165): the same JSON POST handler driven
directly through ASGI took 18 µs per request on Starlette, 64 µs on FastAPI with a raw
``Request`` and 108-157 µs with a pydantic body model; over loopback on uvicorn+httptools
the p50 was 259 µs vs 321-338 µs. Every body here is parsed by hand anyway (each protocol
has its own error shape and field names), so FastAPI's validation and OpenAPI generation
would cost time and give nothing back.

Names resolve lazily, so importing this package costs nothing until they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import create_app
    from ._server import ServerThread
    from ._settings import ApiKey, Profile, ServeSettings, load_settings

__all__ = ["ApiKey", "Profile", "ServeSettings", "ServerThread", "create_app", "load_settings"]

_LAZY = {
    "ApiKey": "._settings",
    "Profile": "._settings",
    "ServeSettings": "._settings",
    "ServerThread": "._server",
    "create_app": "._app",
    "load_settings": "._settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'byom_sdk.serve' has no attribute {name!r}")
    try:
        loaded = importlib.import_module(module, __name__)
    except ModuleNotFoundError as exc:
        if exc.name in ("starlette", "uvicorn"):
            raise ModuleNotFoundError(
                f"byom_sdk.serve needs the serve extra: pip install 'byom-sdk[serve]' (missing {exc.name})",
                name=exc.name,
            ) from exc
        raise
    value = getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
