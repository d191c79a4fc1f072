"""``ManagedModel``: the model an application calls — a façade over a provider and a pipeline.

``Client.model(alias)`` returns one, with the trust steps, plugin middleware and retries in
its pipeline; a provider called directly (``MyProvider(...).generate("hi")``, or by the
conformance suite) is served through a bare one: validation and capability checks only.
Either way the façade validates the caller's arguments, checks what the model declares,
renders chat for prompt-only models, and hands the request to its pipeline's plan; it
holds no call logic of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from typing_extensions import Self, Unpack

from ._errors import ByomError, CapabilityNotSupported, SchemaError
from ._executors import Executors, shared_executors
from ._pipeline import Pipeline
from ._redact import redact
from ._requests import build_embed_request, build_generate_request, check_params
from ._runner import Plan, Runner
from ._streams import AsyncStream, MakePlan, SyncStream
from ._structured import emulate, normalize_response_format, plain_messages, repair_request, schema_of
from ._structured_step import STATE_KEY as STRUCTURED
from ._structured_step import StructuredPlan, StructuredStep
from ._types import (
    Boundary,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    MessageInput,
    ModelInfo,
    RequestMetadata,
)

if TYPE_CHECKING:
    from ._middleware import CallContext, Operation
    from ._provider import Provider
    from ._requests import GenerateParams
    from ._tokenizer import Tokenizer

__all__ = ["ManagedModel"]


def _must_call(request: GenerateRequest) -> bool | str:
    """What ``tool_choice`` requires of the answer: a call (``True``), a call of the named
    tool (its name), or nothing."""
    choice = request.tool_choice
    if isinstance(choice, Mapping):
        function = choice.get("function", choice)
        return str(function.get("name")) if isinstance(function, Mapping) else True
    return choice == "required"


class ManagedModel:
    """A model as the application sees it.

    :param alias: the name it was configured under (errors and the audit name it).
    :param provider: the plugin's provider.
    :param pipeline: the steps every call goes through.
    :param tokenizer: a configured tokenizer overriding the provider's own.
    """

    def __init__(
        self, alias: str, provider: Provider, pipeline: Pipeline, *, tokenizer: Tokenizer | None = None
    ) -> None:
        self.alias = alias
        self.provider = provider
        self.pipeline = pipeline
        self._tokenizer = tokenizer
        self._runner = Runner(provider, pipeline.executors, wrap_foreign=pipeline.wrap_foreign)
        self._in_flight = pipeline.executors.in_flight
        self._closed = False

    @classmethod
    def bare(cls, provider: Provider, *, executors: Executors | None = None) -> ManagedModel:
        """``provider`` behind no steps and no retries, with its own errors unwrapped
        (direct use and conformance testing)."""
        pipeline = Pipeline(
            (StructuredStep(),), retry=None, executors=executors or shared_executors(), wrap_foreign=False
        )
        try:
            alias = provider.info.id
        except Exception:  # noqa: BLE001 - the alias only labels errors; info is checked per call.
            alias = type(provider).__name__
        return cls(alias, provider, pipeline)

    # -- what the model is ------------------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        """The provider's identity, capabilities and boundary, read live."""
        return self.provider.info

    @property
    def tokenizer(self) -> Tokenizer | None:
        return self._tokenizer or self.provider.tokenizer

    @property
    def closed(self) -> bool:
        return self._closed or self.provider.closed

    def verify_boundary(self) -> Boundary:
        """Ask the provider to verify its boundary (e.g. read the endpoint back from the
        cloud's control plane); later calls are gated on what it found."""
        verify = getattr(self.provider, "verify_boundary", None)
        if verify is None:
            raise CapabilityNotSupported("verify_boundary", model=self.alias)
        boundary: Boundary = verify()
        return boundary

    # -- checks -----------------------------------------------------------------------------

    def _check_open(self) -> ModelInfo:
        if self._closed or self.provider.closed:
            raise ByomError(f"model '{self.alias}' is closed")
        return self.provider.info

    def _prepare(
        self, input: MessageInput | GenerateRequest, params: GenerateParams, *, streaming: bool
    ) -> tuple[GenerateRequest, StructuredPlan | None]:
        """The request as the pipeline sends it, and what its answer must follow."""
        check_params(params)
        model_cls = None
        response_format = params.get("response_format")
        if response_format is not None:
            normalized, model_cls = normalize_response_format(response_format)
            params = {**params, "response_format": normalized}
        request = build_generate_request(input, **params)
        caps = self._check_open().capabilities
        if not (caps.generate or caps.chat):
            raise CapabilityNotSupported("generate", model=self.alias)
        if streaming and not caps.stream:
            raise CapabilityNotSupported("stream", model=self.alias)
        if request.stop and not caps.stop_sequences:
            raise CapabilityNotSupported("stop_sequences", model=self.alias)
        plan = None
        wants_tools = bool(request.tools) and request.tool_choice != "none"
        if wants_tools or request.response_format is not None:
            # Without a native or constrained mechanism the SDK emulates it: instructions in
            # the prompt, the answer parsed and validated, one repair round.
            tools_mode = (caps.tools_mode or ("native" if caps.tools else "emulated")) if wants_tools else None
            schema_mode = None
            if request.response_format is not None and caps.structured_output != "native":
                schema_mode = "constrained" if caps.structured_output == "constrained" else "emulated"
            plan = StructuredPlan(
                schema=schema_of(request.response_format),
                model_cls=model_cls,
                tools=request.tools if wants_tools else (),
                tools_in_text=tools_mode in ("emulated", "constrained"),
                emulated=tools_mode == "emulated" or schema_mode == "emulated",
                must_call=_must_call(request) if wants_tools else False,
            )
            if tools_mode in ("emulated", "constrained") or schema_mode is not None:
                request = emulate(
                    request,
                    tools=None if tools_mode == "native" else tools_mode,
                    schema=schema_mode,
                    as_prompt=not caps.chat and (self.provider.tokenizer or self._tokenizer) is None,
                )
        elif (
            request.messages
            and (caps.tools_mode or ("native" if caps.tools else None)) != "native"
            and any(m.role == "tool" or m.tool_calls for m in request.messages)
        ):
            # No tools asked for this turn, but the history has tool traffic the model cannot
            # read natively (the answer after a tool result): it goes as text.
            request = request.model_copy(update={"messages": tuple(plain_messages(request.messages))})
        if request.messages is not None and not caps.chat:
            tokenizer = self.provider.tokenizer or self._tokenizer
            if tokenizer is None:
                raise CapabilityNotSupported("chat", model=self.alias)
            prompt = tokenizer.apply_chat_template(request.messages, add_generation_prompt=True)
            request = request.model_copy(update={"prompt": prompt, "messages": None})
        elif request.prompt is not None and not caps.generate:
            raise CapabilityNotSupported("generate (plain prompt; send messages)", model=self.alias)
        return request, plan

    def _prepare_embed(self) -> None:
        if not self._check_open().capabilities.embed:
            raise CapabilityNotSupported("embed", model=self.alias)

    def _call(self, operation: Operation, plan: StructuredPlan | None = None) -> Any:
        call = self.pipeline.context(self.alias, self.provider.info, operation)
        if plan is not None:
            call.state[STRUCTURED] = plan
        return call

    def _generate_plan(self, request: GenerateRequest, plan: StructuredPlan | None) -> Plan[GenerateResponse]:
        """One call — and for an emulated schema or tools, one repair round when the
        answer does not follow it (a second call, audited as such)."""
        try:
            response: GenerateResponse = yield from self.pipeline.unary(self._call("generate", plan), request)
            return response
        except SchemaError as error:
            if plan is None or not plan.emulated or request.messages is None:
                raise
            answer = str(error.details.get("raw_text", ""))
            retry = repair_request(request, answer, error)
        repaired: GenerateResponse = yield from self.pipeline.unary(self._call("generate", plan), retry)
        return repaired

    # -- what each operation runs (a routed model overrides these three) ---------------------

    def _generate_of(self, input: MessageInput | GenerateRequest, params: GenerateParams) -> Plan[GenerateResponse]:
        request, plan = self._prepare(input, params, streaming=False)
        return self._generate_plan(request, plan)

    def _stream_of(self, input: MessageInput | GenerateRequest, params: GenerateParams) -> MakePlan:
        request, plan = self._prepare(input, params, streaming=True)
        return self._stream_plan(request, plan)

    def _stream_plan(self, request: GenerateRequest, plan: StructuredPlan | None) -> MakePlan:
        call = self._call("stream", plan)
        pipeline = self.pipeline

        def make(cancelled: bool) -> Plan[None]:
            if cancelled:
                return pipeline.cancelled(call)
            if plan is not None and plan.emulated and plan.tools_in_text and request.messages is not None:
                return self._repairing_stream(call, request, plan)
            return pipeline.stream(call, request)

        return make

    def _repairing_stream(self, call: CallContext, request: GenerateRequest, plan: StructuredPlan) -> Plan[None]:
        """A stream of an emulated tool call gets the unary call's repair round: its answer
        is held until it is settled (the text is the call), so an answer refused as a call
        has shown the application nothing yet and the repaired answer can stream instead.
        (An emulated schema without tools streams its text as it comes: no repair round.)"""
        try:
            yield from self.pipeline.stream(call, request)
            return
        except SchemaError as error:
            retry = repair_request(request, str(error.details.get("raw_text", "")), error)
        yield from self.pipeline.stream(self._call("stream", plan), retry)

    def _embed_of(self, request: EmbedRequest) -> Plan[EmbedResponse]:
        self._prepare_embed()
        return self.pipeline.unary(self._call("embed"), request)

    # -- the public contract ----------------------------------------------------------------

    def generate(self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]) -> GenerateResponse:
        """Generate a completion for a prompt string or a list of chat messages.

        :param input: a prompt, a list of messages (dicts or :class:`Message`) or a request.
        :param params: ``max_tokens``, ``temperature``, ``top_p``, ``top_k``, ``stop``,
            ``seed``, ``tools``, ``tool_choice``, ``response_format`` (a pydantic model
            class or a JSON schema; the validated object is ``response.parsed``),
            ``metadata``, ``extra`` (see :class:`GenerateParams`).
        :raises BadRequest: invalid input, naming the field.
        :raises SchemaError: the answer does not follow ``response_format`` or the tools.
        """
        in_flight, owner = self._in_flight, threading.get_ident()
        in_flight.enter(owner, self.alias)
        try:
            return self._runner.run(self._generate_of(input, params))
        finally:
            in_flight.leave(owner)

    async def agenerate(
        self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]
    ) -> GenerateResponse:
        """Async twin of :meth:`generate`; never blocks the event loop."""
        in_flight, owner = self._in_flight, asyncio.get_running_loop()
        in_flight.enter(owner, self.alias)
        try:
            return await self._runner.arun(self._generate_of(input, params))
        finally:
            in_flight.leave(owner)

    def stream(self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]) -> SyncStream:
        """Stream typed events — text deltas, tool calls, usage, then one finish event.

        Input is validated now; the call starts at the first ``next()``. Close the stream
        (or use ``with``) to stop early. With ``response_format``, the whole text is
        validated at the end (``SchemaError`` instead of the finish event).
        """
        return SyncStream(self._runner, self._stream_of(input, params), self.alias)

    def astream(self, input: MessageInput | GenerateRequest, /, **params: Unpack[GenerateParams]) -> AsyncStream:
        """Async twin of :meth:`stream` (``async for``; ``await stream.aclose()`` to stop)."""
        return AsyncStream(self._runner, self._stream_of(input, params), self.alias)

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
        in_flight, owner = self._in_flight, threading.get_ident()
        in_flight.enter(owner, self.alias)
        try:
            return self._runner.run(self._embed_of(request))
        finally:
            in_flight.leave(owner)

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
        in_flight, owner = self._in_flight, asyncio.get_running_loop()
        in_flight.enter(owner, self.alias)
        try:
            return await self._runner.arun(self._embed_of(request))
        finally:
            in_flight.leave(owner)

    def close(self) -> None:
        """Close the provider; later calls raise ``ByomError`` ("model is closed")."""
        if not self._closed:
            self._closed = True
            self.provider.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`: the provider closes its loop-bound clients too."""
        if not self._closed:
            self._closed = True
            await self.provider.aclose()

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

    def __repr__(self) -> str:
        info = self.provider.info
        return redact(f"<ManagedModel {self.alias!r} provider={info.provider!r} id={info.id!r}>")
