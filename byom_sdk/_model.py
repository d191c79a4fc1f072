"""``Model``: the plugin API version 1 base class, kept working on top of ``Provider``.

Version-1 plugins subclass :class:`Model` and implement underscore hooks (``_generate``
or ``_agenerate``, ``_stream`` or ``_astream``, ``_embed`` or ``_aembed``, ``_close``).
This class is the shim: it maps those hooks onto the version-2 ``handle_*`` interface,
so the call pipeline treats a v1 plugin exactly like a v2 provider — same validation,
same trust steps, same sync/async derivation. New plugins should subclass
:class:`~byom_sdk.Provider`; a dozen-line v1 provider still works::

    class Echo(Model):
        info = ModelInfo(id="echo", provider="echo",
                         capabilities=Capabilities(generate=True, chat=True),
                         boundary=Boundary(provider="echo", location_kind="process",
                                           retention="none"))

        def _generate(self, request):
            text = request.as_messages()[-1].content
            return GenerateResponse(text=text, finish_reason="stop", model="echo",
                                    usage=Usage.estimate(text, text))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import ClassVar

from ._bridge import run_in_thread
from ._provider import Provider
from ._requests import GenerateParams, build_embed_request, build_generate_request
from ._types import EmbedRequest, EmbedResponse, GenerateRequest, GenerateResponse, StreamEvent

__all__ = ["GenerateParams", "Model", "build_embed_request", "build_generate_request"]

#: operation → the v1 hook that implements it natively.
_V1_HOOKS: Mapping[str, str] = {
    "generate": "_generate",
    "agenerate": "_agenerate",
    "stream": "_stream",
    "astream": "_astream",
    "embed": "_embed",
    "aembed": "_aembed",
}


class Model(Provider):
    """Base class of plugin API version 1 models (see the module docstring)."""

    #: the v1 hooks this class implements natively, by hook name (kept for v1 plugins).
    _native: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def _native_operations(cls) -> frozenset[str]:
        if cls.__name__ == "Model" and cls.__module__ == __name__:
            return frozenset()  # the base itself, while its class statement completes
        found = frozenset(op for op, hook in _V1_HOOKS.items() if getattr(cls, hook) is not getattr(Model, hook))
        cls._native = frozenset(_V1_HOOKS[op] for op in found)
        return found

    # -- the v1 hooks a plugin overrides ------------------------------------------------

    def _generate(self, request: GenerateRequest) -> GenerateResponse:
        raise NotImplementedError(f"{type(self).__name__} must implement '_generate' or '_agenerate'")

    async def _agenerate(self, request: GenerateRequest) -> GenerateResponse:
        raise NotImplementedError(f"{type(self).__name__} must implement '_generate' or '_agenerate'")

    def _stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        raise NotImplementedError(f"{type(self).__name__} must implement '_stream' or '_astream'")

    def _astream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:
        raise NotImplementedError(f"{type(self).__name__} must implement '_stream' or '_astream'")

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        raise NotImplementedError(f"{type(self).__name__} must implement '_embed' or '_aembed'")

    async def _aembed(self, request: EmbedRequest) -> EmbedResponse:
        raise NotImplementedError(f"{type(self).__name__} must implement '_embed' or '_aembed'")

    def _close(self) -> None:
        """Release clients, sessions and buffers. Called once by ``close()``."""

    # -- the v2 interface, mapped onto the hooks ------------------------------------------

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        return self._generate(request)

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        return await self._agenerate(request)

    def handle_stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        return self._stream(request)

    def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:
        return self._astream(request)

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        return self._embed(request)

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        return await self._aembed(request)

    def close(self) -> None:
        """Release the model's resources; later calls raise ``ByomError`` ("model is closed")."""
        if not self._closed:
            self._closed = True
            self._release_direct()
            self._close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close` (``_close`` may block, so it runs in a thread)."""
        await run_in_thread(self.close)

    def __repr__(self) -> str:
        try:
            name = self.info.id
        except Exception:  # noqa: BLE001 - a repr must not fail on a half-built model.
            name = "?"
        return f"<{type(self).__name__} {name!r}>"
