"""Defective botocore providers (real ``ClientError`` / ``ReadTimeoutError`` /
``EndpointConnectionError`` from a real client) and in-process defects."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

from byom_sdk import (
    BadRequest,
    Capabilities,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    Message,
    ModelError,
    ProviderError,
    TextDelta,
    Unavailable,
    Usage,
)
from byom_sdk._requests import build_embed_request
from byom_sdk.testing import ScriptedModel, WhitespaceTokenizer

from ._boto import _AUTH_CODES, NAME, EchoBotoProvider, map_client_error

# -- botocore ---------------------------------------------------------------------------------


class BotoReadTimeoutIsRetryable(EchoBotoProvider):
    """Maps botocore's ``ReadTimeoutError`` to ``Unavailable``: the retry policy re-sends a
    generation that may still be running."""

    def invoke(self, body: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        try:
            return super().invoke(body, timeout)
        except ProviderError as exc:
            if isinstance(exc.__cause__, ReadTimeoutError):
                raise Unavailable(f"{NAME}: endpoint slow, retry", provider=NAME) from exc.__cause__
            raise


class BotoValidationIsModelError(EchoBotoProvider):
    """Maps every ``ClientError`` from ``InvokeEndpoint`` that is not throttling to
    ``ModelError`` ("the container failed"), ValidationError included."""

    def invoke(self, body: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        try:
            return super().invoke(body, timeout)
        except BadRequest as exc:
            raise ModelError(f"{NAME}: container error: {exc}", provider=NAME, status_code=400) from exc.__cause__


class BotoAsyncLeaksClientError(EchoBotoProvider):
    """Adds a native ``ahandle_generate`` (the client in a thread) without the error mapping
    the sync path has: ``botocore.exceptions.ClientError`` escapes from ``agenerate``."""

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        client = self.client(request.timeout)
        answer = await asyncio.to_thread(
            client.invoke_endpoint,
            EndpointName=self.endpoint,
            Body=json.dumps(self.payload(request)).encode(),
            ContentType="application/json",
            Accept="application/json",
        )
        data = json.loads(answer["Body"].read())
        usage = data["usage"]
        return GenerateResponse(
            text=data["text"],
            finish_reason=data["finish_reason"],
            usage=Usage(input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"], source="server"),
            model=self.info.id,
            latency_ms=(time.perf_counter() - started) * 1000.0,
        )


class BotoConnectionErrorLeaks(EchoBotoProvider):
    """Catches ``ClientError`` only: a refused connection (``EndpointConnectionError``, a
    ``BotoCoreError``) escapes raw."""

    def invoke(self, body: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        try:
            answer = self.client(timeout).invoke_endpoint(
                EndpointName=self.endpoint,
                Body=json.dumps(body).encode(),
                ContentType="application/json",
                Accept="application/json",
            )
        except ClientError as exc:
            raise map_client_error(exc) from exc
        data: dict[str, Any] = json.loads(answer["Body"].read())
        return data


class BotoAuthIsBadRequest(EchoBotoProvider):
    """Treats every 4xx ``ClientError`` it does not know as a bad request — refused
    credentials included."""

    def invoke(self, body: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        try:
            return super().invoke(body, timeout)
        except ProviderError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and cause.response["Error"].get("Code") in _AUTH_CODES:
                raise BadRequest(f"{NAME}: request rejected: {cause}", provider=NAME) from cause
            raise


# -- in-process -------------------------------------------------------------------------------


class BosCountingTokenizer(WhitespaceTokenizer):
    """Counts like ``encode(add_special_tokens=True)``: one BOS more than ``encode`` gives."""

    def count(self, text: str) -> int:
        return super().count(text) + 1


class CountsWithSpecialTokens(ScriptedModel):
    """Its tokenizer's ``count`` includes a BOS token that ``encode`` does not."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokenizer_impl = BosCountingTokenizer()


class NotThreadSafe(ScriptedModel):
    """Keeps the current request on ``self``: concurrent callers get each other's answers."""

    def _generate(self, request: GenerateRequest) -> GenerateResponse:
        self._current = request
        time.sleep(0.01)
        return super()._generate(self._current)


class CountsCharacters(ScriptedModel):
    """Reports the prompt's characters as its tokens while claiming ``source="tokenizer"``."""

    def _shape(self, request: GenerateRequest) -> Any:
        pieces, finish, _ = super()._shape(request)
        prompt = request.prompt
        if prompt is None:
            prompt = self.tokenizer.apply_chat_template(request.as_messages())
        return pieces, finish, len(prompt)


class StreamStripsDeltas(ScriptedModel):
    """Strips whitespace from each streamed delta ("clean tokens"): joined deltas no longer
    equal the generated text."""

    def _stream(self, request: GenerateRequest) -> Any:
        for event in super()._stream(request):
            if isinstance(event, TextDelta):
                event = TextDelta(text=event.text.strip())
            yield event


class SilentEmbed(ScriptedModel):
    """Does not declare ``embed``, yet overrides the public ``embed()`` and answers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(capabilities=Capabilities(generate=True, chat=True, stream=True, max_context=4096), **kwargs)

    def embed(self, texts: Any, /, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._embed(build_embed_request(texts))


class SpaceCleaningTokenizer(WhitespaceTokenizer):
    """Decodes with ``clean_up_tokenization_spaces``-style cleanup: runs of spaces and
    newlines collapse to one space, so ``decode(encode(text))`` changes the text."""

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        return " ".join(super().decode(ids, skip_special_tokens=skip_special_tokens).split())


class LossyTokenizer(ScriptedModel):
    """Its tokenizer cleans up spaces on decode."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokenizer_impl = SpaceCleaningTokenizer()


class EmptyTextEmbedsNaN(ScriptedModel):
    """Mean-pools token states: an empty or blank text has zero tokens, and 0/0 gives a
    NaN vector returned as a normal answer."""

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        response = super()._embed(request)
        dim = self._info.embedding_dimension or 8
        vectors = tuple(
            tuple(float("nan") for _ in range(dim)) if not text.strip() else vector
            for text, vector in zip(request.texts, response.vectors, strict=True)
        )
        return response.model_copy(update={"vectors": vectors})


class StreamSplitsUTF8(ScriptedModel):
    """Streams like a byte-level decoder without hold-back: each 2-byte piece is decoded on
    its own (``errors="replace"``), so a character split across pieces becomes U+FFFD."""

    def _stream(self, request: GenerateRequest) -> Iterator[Any]:
        for event in super()._stream(request):
            if isinstance(event, TextDelta):
                raw = event.text.encode("utf-8")
                pieces = (raw[i : i + 2].decode("utf-8", "replace") for i in range(0, len(raw), 2))
                event = TextDelta(text="".join(pieces))
            yield event


class SeedIgnored(ScriptedModel):
    """Declares ``seed`` but samples with an unseeded RNG: a sampled request with a fixed
    seed answers differently each time."""

    def _next_reply(self, request: GenerateRequest) -> str:
        reply = super()._next_reply(request)
        if request.temperature:
            words = reply.split(" ")
            random.Random().shuffle(words)  # request.seed never used
            reply = " ".join(words)
        return reply


class _NoSystemTokenizer(WhitespaceTokenizer):
    def apply_chat_template(
        self, messages: Sequence[Message | Mapping[str, Any]], *, add_generation_prompt: bool = True
    ) -> str:
        kept = [m for m in messages if (m.role if isinstance(m, Message) else m.get("role")) != "system"]
        return super().apply_chat_template(kept, add_generation_prompt=add_generation_prompt)


class ChatTemplateDropsSystem(ScriptedModel):
    """Its tokenizer's chat template renders only user and assistant turns: the system
    message silently disappears."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokenizer_impl = _NoSystemTokenizer()


class _AlwaysPromptTokenizer(WhitespaceTokenizer):
    def apply_chat_template(
        self, messages: Sequence[Message | Mapping[str, Any]], *, add_generation_prompt: bool = True
    ) -> str:
        return super().apply_chat_template(messages, add_generation_prompt=True)


class GenerationPromptAlways(ScriptedModel):
    """Its tokenizer's chat template ignores ``add_generation_prompt=False`` and always
    opens an assistant turn."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokenizer_impl = _AlwaysPromptTokenizer()


class EmbedUsageCountsTexts(ScriptedModel):
    """Embedding usage counts texts, not tokens (``input_tokens=len(texts)``), still labelled
    ``source="tokenizer"``."""

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        response = super()._embed(request)
        usage = Usage(input_tokens=len(request.texts), output_tokens=0, source="tokenizer")
        return response.model_copy(update={"usage": usage})
