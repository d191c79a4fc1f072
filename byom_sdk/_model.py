"""The ``Model`` base class: one contract for every provider.

A provider subclasses :class:`Model`, returns its :class:`ModelInfo` from ``info`` and
implements the sync side (``_generate``, ``_stream``, ``_embed``) or the async side
(``_agenerate``, ``_astream``, ``_aembed``) natively; the base class derives the other
side, checks declared capabilities and turns the caller's arguments into validated
requests. A dozen-line provider::

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

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from pydantic import TypeAdapter
from typing_extensions import Unpack

from ._bridge import aiter_in_thread, iter_sync, run_in_thread, run_sync
from ._errors import ByomError, CapabilityNotSupported
from ._types import (
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    Message,
    MessageInput,
    ModelInfo,
    RequestMetadata,
    StreamEvent,
)

if TYPE_CHECKING:
    from ._tokenizer import Tokenizer

__all__ = ["GenerateParams", "Model", "build_embed_request", "build_generate_request"]

_NATIVE_HOOKS = ("_generate", "_agenerate", "_stream", "_astream", "_embed", "_aembed")
_messages_adapter: TypeAdapter[tuple[Message, ...]] | None = None


def _validate_messages(value: Any) -> tuple[Message, ...]:
    global _messages_adapter
    if _messages_adapter is None:  # built on first use: keeps `import byom_sdk` light
        _messages_adapter = TypeAdapter(tuple[Message, ...])
    return _messages_adapter.validate_python(value)


class GenerateParams(TypedDict, total=False):
    """Keyword parameters of ``generate`` / ``stream`` and their async twins."""

    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    top_k: int | None
    stop: str | Sequence[str] | None
    seed: int | None
    tools: Sequence[Mapping[str, Any]] | None
    metadata: RequestMetadata | Mapping[str, Any] | None
    extra: Mapping[str, Any] | None


def build_generate_request(
    input: MessageInput | GenerateRequest,
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    stop: str | Sequence[str] | None = None,
    seed: int | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    metadata: RequestMetadata | Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> GenerateRequest:
    """Validate the caller's arguments into a :class:`GenerateRequest`.

    ``input`` is a prompt string, a list of messages (``Message`` or dicts) or a ready
    request. Invalid input raises ``pydantic.ValidationError`` naming the field.
    """
    if isinstance(input, GenerateRequest):
        return input
    fields: dict[str, Any] = {}
    if isinstance(input, str):
        fields["prompt"] = input
    else:
        fields["messages"] = _validate_messages(input)
    if max_tokens is not None:
        fields["max_tokens"] = max_tokens
    if temperature is not None:
        fields["temperature"] = temperature
    if top_p is not None:
        fields["top_p"] = top_p
    if top_k is not None:
        fields["top_k"] = top_k
    if stop is not None:
        fields["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
    if seed is not None:
        fields["seed"] = seed
    if tools:
        fields["tools"] = tuple(dict(t) for t in tools)
    if metadata is not None:
        fields["metadata"] = metadata
    if extra:
        fields["extra"] = dict(extra)
    return GenerateRequest(**fields)


def build_embed_request(
    texts: str | Sequence[str] | EmbedRequest,
    *,
    normalize: bool | None = None,
    metadata: RequestMetadata | Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> EmbedRequest:
    """Validate the caller's arguments into an :class:`EmbedRequest`."""
    if isinstance(texts, EmbedRequest):
        return texts
    fields: dict[str, Any] = {"texts": (texts,) if isinstance(texts, str) else tuple(texts)}
    if normalize is not None:
        fields["normalize"] = normalize
    if metadata is not None:
        fields["metadata"] = metadata
    if extra:
        fields["extra"] = dict(extra)
    return EmbedRequest(**fields)


class Model:
    """Base class of every model: the contract applications call and plugins implement.

    Public methods (``generate``, ``stream``, ``embed`` and their ``a``-prefixed async
    twins) validate input, check capabilities and dispatch to the native side the plugin
    implemented. Plugins override the underscore methods only.
    """

    #: names of the underscore hooks this class implements natively (computed per subclass).
    _native: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._native = frozenset(name for name in _NATIVE_HOOKS if getattr(cls, name) is not getattr(Model, name))

    # -- what a plugin provides -------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        """Identity, capabilities and boundary. Plugins must provide it."""
        raise NotImplementedError(f"{type(self).__name__} must define the 'info' property")

    @property
    def tokenizer(self) -> Tokenizer | None:
        """The model's real tokenizer, when it has one (used for usage and context checks)."""
        return None

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

    # -- dispatch between the native side and the derived side ---------------------------

    def _call_generate(self, request: GenerateRequest) -> GenerateResponse:
        if "_generate" in self._native:
            return self._generate(request)
        if "_agenerate" in self._native:
            return run_sync(self._agenerate(request))
        return self._generate(request)  # raises the NotImplementedError naming the class

    async def _acall_generate(self, request: GenerateRequest) -> GenerateResponse:
        if "_agenerate" in self._native:
            return await self._agenerate(request)
        return await run_in_thread(lambda: self._call_generate(request))

    def _call_stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        if "_stream" in self._native:
            return self._stream(request)
        if "_astream" in self._native:
            return iter_sync(self._astream(request))
        return self._stream(request)

    def _acall_stream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:
        if "_astream" in self._native:
            return self._astream(request)
        return aiter_in_thread(lambda: self._call_stream(request))

    def _call_embed(self, request: EmbedRequest) -> EmbedResponse:
        if "_embed" in self._native:
            return self._embed(request)
        if "_aembed" in self._native:
            return run_sync(self._aembed(request))
        return self._embed(request)

    async def _acall_embed(self, request: EmbedRequest) -> EmbedResponse:
        if "_aembed" in self._native:
            return await self._aembed(request)
        return await run_in_thread(lambda: self._call_embed(request))

    # -- capability checks ----------------------------------------------------------------

    def _raise_closed(self) -> None:
        raise ByomError(f"model '{self.info.id}' is closed")

    def _check_generate(self, request: GenerateRequest, *, streaming: bool) -> GenerateRequest:
        if self._closed:
            self._raise_closed()
        info = self.info
        caps = info.capabilities
        if not (caps.generate or caps.chat):
            raise CapabilityNotSupported("generate", model=info.id)
        if streaming and not caps.stream:
            raise CapabilityNotSupported("stream", model=info.id)
        if request.tools and not caps.tools:
            raise CapabilityNotSupported("tools", model=info.id)
        if request.stop and not caps.stop_sequences:
            raise CapabilityNotSupported("stop_sequences", model=info.id)
        if request.messages is not None and not caps.chat:
            request = self._render_chat(request)
        elif request.prompt is not None and not caps.generate:
            raise CapabilityNotSupported("generate (plain prompt; send messages)", model=info.id)
        return request

    def _render_chat(self, request: GenerateRequest) -> GenerateRequest:
        """Turn messages into a prompt with the model's chat template, when it has one."""
        tokenizer = self.tokenizer
        if tokenizer is None or request.messages is None:
            raise CapabilityNotSupported("chat", model=self.info.id)
        prompt = tokenizer.apply_chat_template(request.messages, add_generation_prompt=True)
        return request.model_copy(update={"prompt": prompt, "messages": None})

    def _check_embed(self) -> None:
        if self._closed:
            self._raise_closed()
        info = self.info
        if not info.capabilities.embed:
            raise CapabilityNotSupported("embed", model=info.id)

    # -- the public contract ------------------------------------------------------------

    def generate(self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]) -> GenerateResponse:
        """Generate a completion for a prompt string or a list of chat messages.

        :param input: a prompt, a list of messages (dicts or :class:`Message`) or a request.
        :param params: ``max_tokens``, ``temperature``, ``top_p``, ``top_k``, ``stop``,
            ``seed``, ``tools``, ``metadata``, ``extra`` (see :class:`GenerateParams`).
        """
        request = build_generate_request(input, **params)
        return self._call_generate(self._check_generate(request, streaming=False))

    async def agenerate(
        self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]
    ) -> GenerateResponse:
        """Async twin of :meth:`generate`; never blocks the event loop."""
        request = build_generate_request(input, **params)
        return await self._acall_generate(self._check_generate(request, streaming=False))

    def stream(
        self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]
    ) -> Iterator[StreamEvent]:
        """Stream typed events: text deltas, usage, and a final finish event."""
        request = build_generate_request(input, **params)
        return self._call_stream(self._check_generate(request, streaming=True))

    def astream(
        self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream` (use with ``async for``)."""
        request = build_generate_request(input, **params)
        return self._acall_stream(self._check_generate(request, streaming=True))

    def embed(
        self,
        texts: str | Sequence[str] | EmbedRequest,
        /,
        *,
        normalize: bool | None = None,
        metadata: RequestMetadata | Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> EmbedResponse:
        """Embed one text or a list of texts; one vector per text, in order."""
        request = build_embed_request(texts, normalize=normalize, metadata=metadata, extra=extra)
        self._check_embed()
        return self._call_embed(request)

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
        request = build_embed_request(texts, normalize=normalize, metadata=metadata, extra=extra)
        self._check_embed()
        return await self._acall_embed(request)

    # -- lifecycle ----------------------------------------------------------------------

    _closed: bool = False

    def close(self) -> None:
        """Release the model's resources; later calls raise ``ByomError`` ("model is closed")."""
        if not self._closed:
            self._closed = True
            self._close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        await run_in_thread(self.close)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Model:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Model:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
