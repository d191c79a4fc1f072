"""The tokenizer step: the context-window check before sending, real counts after.

Present in a model's pipeline when its config names a ``tokenizer``. Before the request
leaves, the prompt (rendered with the chat template for messages) plus ``max_tokens`` is
checked against the model's declared ``max_context``, so an oversized request fails here
as ``BadRequest`` instead of at the endpoint. After the answer, a usage the provider only
estimated (``source="estimate"``) is replaced with counts from the real tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._errors import BadRequest
from ._middleware import CallContext, Interceptor
from ._types import FinishEvent, GenerateRequest, GenerateResponse, StreamEvent, TextDelta, Usage, UsageEvent

if TYPE_CHECKING:
    from ._tokenizer import Tokenizer

__all__ = ["TokenizerMiddleware"]


class TokenizerMiddleware:
    """Context check and usage recount with the configured ``tokenizer``."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def open(self, call: CallContext) -> Interceptor | None:
        if call.operation == "embed":
            return None
        return _TokenizerCall(self.tokenizer, call)


class _TokenizerCall(Interceptor):
    any_thread = True

    __slots__ = ("call", "prompt_tokens", "request", "text", "tokenizer")

    def __init__(self, tokenizer: Tokenizer, call: CallContext) -> None:
        self.tokenizer = tokenizer
        self.call = call
        self.prompt_tokens: int | None = None
        self.request: GenerateRequest | None = None
        self.text: list[str] = []

    def _prompt(self, request: GenerateRequest) -> str:
        if request.prompt is not None:
            return request.prompt
        return self.tokenizer.apply_chat_template(request.as_messages())

    def _count_prompt(self, request: GenerateRequest) -> int:
        # With special tokens: the endpoint prepends BOS to a raw prompt, and that token takes
        # a place in the window too (a rendered template that already starts with it is not
        # given a second one).
        return len(self.tokenizer.encode(self._prompt(request), add_special_tokens=True))

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        self.request = request
        limit = self.call.info.capabilities.max_context
        if limit is None:
            return request
        used = self.prompt_tokens = self._count_prompt(request)
        # Without max_tokens the model still has to produce one token: a prompt that fills
        # the window exactly leaves no room and fails at the endpoint.
        output = request.max_tokens if request.max_tokens is not None else 1
        wanted = used + output
        if wanted > limit:
            raise BadRequest(
                f"model '{self.call.alias}': prompt is {used} tokens + {output} output tokens "
                f"= {wanted}, over the context window of {limit}",
                provider=self.call.info.provider,
                code="ContextWindowExceeded",
            )
        return request

    def _usage(self, text: str) -> Usage:
        assert self.request is not None
        prompt_tokens = self.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = self._count_prompt(self.request)
        return Usage(input_tokens=prompt_tokens, output_tokens=self.tokenizer.count(text), source="tokenizer")

    def on_response(self, response: GenerateResponse) -> GenerateResponse:
        if response.usage.source != "estimate":
            return response
        return response.model_copy(update={"usage": self._usage(response.text)})

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        if isinstance(event, TextDelta):
            self.text.append(event.text)
        elif isinstance(event, UsageEvent) and event.usage.source == "estimate":
            return (UsageEvent(usage=self._usage("".join(self.text))),)
        elif isinstance(event, FinishEvent) and event.usage is not None and event.usage.source == "estimate":
            return (FinishEvent(finish_reason=event.finish_reason, usage=self._usage("".join(self.text))),)
        return (event,)
