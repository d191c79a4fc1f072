"""The ``template-echo`` provider: echoes the last message, one word per token."""

from __future__ import annotations

from collections.abc import Iterator

from byom_sdk import (
    Boundary,
    Capabilities,
    FinishEvent,
    FinishReason,
    GenerateRequest,
    GenerateResponse,
    ModelInfo,
    ModelProviderSpec,
    Provider,
    StreamEvent,
    TextDelta,
    Usage,
    hookimpl,
)


class EchoProvider(Provider):
    info = ModelInfo(
        id="echo",
        provider="template-echo",
        capabilities=Capabilities(generate=True, chat=True, stream=True),
        boundary=Boundary(provider="template-echo", location_kind="process", retention="none"),
    )

    def _answer(self, request: GenerateRequest) -> tuple[list[str], FinishReason, Usage]:
        prompt = request.as_messages()[-1].content
        text, finish = prompt, "stop"
        for stop in request.stop:
            text = text.split(stop, 1)[0]
        words = text.split(" ")
        if request.max_tokens is not None and len(words) > request.max_tokens:
            words, finish = words[: request.max_tokens], "length"
        return words, finish, Usage(input_tokens=len(prompt.split()), output_tokens=len(words), source="server")

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        words, finish, usage = self._answer(request)
        return GenerateResponse(text=" ".join(words), finish_reason=finish, usage=usage, model="echo")

    def handle_stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        words, finish, usage = self._answer(request)
        for index, word in enumerate(words):
            yield TextDelta(text=word if index == 0 else " " + word)
        yield FinishEvent(finish_reason=finish, usage=usage)


@hookimpl
def byom_model_providers() -> list[ModelProviderSpec]:
    return [ModelProviderSpec(name="template-echo", factory=lambda config: EchoProvider())]
