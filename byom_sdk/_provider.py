"""``Provider``: what a plugin implements (plugin API version 2).

A provider is to a byom model what a transport is to an httpx client: it handles one
validated request and returns the contract's response, and nothing else. It does not
validate input, check capabilities, retry, mask, gate or audit — the call pipeline in
front of it does, the same way for every provider. Implement the sync side, the async
side, or both; the pipeline derives the missing side (worker threads from a bounded
executor for sync-only providers, a private event loop for async-only ones)::

    class Echo(Provider):
        info = ModelInfo(id="echo", provider="echo",
                         capabilities=Capabilities(generate=True, chat=True),
                         boundary=Boundary(provider="echo", location_kind="process",
                                           retention="none"))

        def handle_generate(self, request):
            text = request.as_messages()[-1].content
            return GenerateResponse(text=text, finish_reason="stop", model="echo",
                                    usage=Usage.estimate(text, text))

``info`` is read on every call (a provider that verifies its boundary later updates it),
and ``close`` / ``aclose`` are called by the model that owns the provider. A provider can
also be called directly, without a Client — ``Echo().generate("hi")`` — through a bare
pipeline (validation and capability checks, no trust, no retries), which is also what the
conformance suite uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from typing_extensions import Self, Unpack

from ._types import (
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    MessageInput,
    ModelInfo,
    RequestMetadata,
    StreamEvent,
)

if TYPE_CHECKING:
    from ._facade import ManagedModel
    from ._requests import GenerateParams
    from ._streams import AsyncStream, SyncStream
    from ._tokenizer import Tokenizer

__all__ = ["OPERATIONS", "Provider"]

#: operation → the hook that implements it natively.
OPERATIONS: Mapping[str, str] = {
    "generate": "handle_generate",
    "agenerate": "ahandle_generate",
    "stream": "handle_stream",
    "astream": "ahandle_stream",
    "embed": "handle_embed",
    "aembed": "ahandle_embed",
}


class Provider:
    """Base class of model providers (plugin API version 2).

    Override ``info`` and the ``handle_*`` / ``ahandle_*`` hooks you implement natively;
    override ``close`` (calling ``super().close()``) and ``aclose`` to release clients.
    """

    #: the operations implemented natively (computed per subclass; an instance may narrow
    #: or widen it, as a provider whose transport decides does).
    native: frozenset[str] = frozenset()
    _closed: bool = False
    _direct_model: ManagedModel | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.native = cls._native_operations()

    @classmethod
    def _native_operations(cls) -> frozenset[str]:
        return frozenset(op for op, hook in OPERATIONS.items() if getattr(cls, hook) is not getattr(Provider, hook))

    # -- what a provider provides -------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        """Identity, capabilities and boundary; read on every call."""
        raise NotImplementedError(f"{type(self).__name__} must define the 'info' property")

    @property
    def tokenizer(self) -> Tokenizer | None:
        """The model's real tokenizer, when it has one (usage and context checks)."""
        return None

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        raise NotImplementedError(f"{type(self).__name__} implements neither generate side")

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        raise NotImplementedError(f"{type(self).__name__} implements neither generate side")

    def handle_stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        raise NotImplementedError(f"{type(self).__name__} implements neither stream side")

    def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:
        raise NotImplementedError(f"{type(self).__name__} implements neither stream side")

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        raise NotImplementedError(f"{type(self).__name__} implements neither embed side")

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        raise NotImplementedError(f"{type(self).__name__} implements neither embed side")

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release clients and buffers. Subclasses call ``super().close()``."""
        self._closed = True
        self._release_direct()

    def _release_direct(self) -> None:
        """Stop the worker threads direct calls used (a Client's calls use the Client's)."""
        model, self._direct_model = self._direct_model, None
        if model is not None:
            model.pipeline.executors.shutdown(wait=False)

    async def aclose(self) -> None:
        """Async twin of :meth:`close` (override to close loop-bound clients properly)."""
        self.close()

    # -- direct use, without a Client -----------------------------------------------------

    def _direct(self) -> ManagedModel:
        model = self._direct_model
        if model is None:
            from ._executors import Executors
            from ._facade import ManagedModel

            # Own executors, stopped by close(): a provider used directly leaves no threads.
            executors = Executors(name=f"byom-{type(self).__name__}")
            model = self._direct_model = ManagedModel.bare(self, executors=executors)
        return model

    def generate(self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]) -> GenerateResponse:
        """Generate without a Client (no trust pipeline, no retries); see ``ManagedModel``."""
        return self._direct().generate(input, **params)

    async def agenerate(
        self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]
    ) -> GenerateResponse:
        """Async twin of :meth:`generate`."""
        return await self._direct().agenerate(input, **params)

    def stream(self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]) -> SyncStream:
        """Stream without a Client; see ``ManagedModel.stream``."""
        return self._direct().stream(input, **params)

    def astream(self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]) -> AsyncStream:
        """Async twin of :meth:`stream`."""
        return self._direct().astream(input, **params)

    def embed(
        self,
        texts: str | Sequence[str] | EmbedRequest,
        /,
        *,
        normalize: bool | None = None,
        metadata: RequestMetadata | Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> EmbedResponse:
        """Embed without a Client."""
        return self._direct().embed(texts, normalize=normalize, metadata=metadata, extra=extra)

    async def aembed(
        self,
        texts: str | Sequence[str] | EmbedRequest,
        /,
        *,
        normalize: bool | None = None,
        metadata: RequestMetadata | Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> EmbedResponse:
        """Async twin of :meth:`embed`."""
        return await self._direct().aembed(texts, normalize=normalize, metadata=metadata, extra=extra)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
