"""The ``template-echo`` provider: echoes the last message, one word per token."""

from __future__ import annotations

from byom_sdk import (
    Boundary,
    Capabilities,
    GenerateRequest,
    GenerateResponse,
    Model,
    ModelInfo,
    ModelProviderSpec,
    Usage,
    hookimpl,
)


class EchoModel(Model):
    info = ModelInfo(
        id="echo",
        provider="template-echo",
        capabilities=Capabilities(generate=True, chat=True),
        boundary=Boundary(provider="template-echo", location_kind="process", retention="none"),
    )

    def _generate(self, request: GenerateRequest) -> GenerateResponse:
        prompt = request.as_messages()[-1].content
        text, finish = prompt, "stop"
        for stop in request.stop:
            text = text.split(stop, 1)[0]
        words = text.split(" ")
        if request.max_tokens is not None and len(words) > request.max_tokens:
            words, finish = words[: request.max_tokens], "length"
        usage = Usage(input_tokens=len(prompt.split()), output_tokens=len(words), source="server")
        return GenerateResponse(text=" ".join(words), finish_reason=finish, usage=usage, model="echo")


@hookimpl
def byom_model_providers() -> list[ModelProviderSpec]:
    return [ModelProviderSpec(name="template-echo", factory=lambda config: EchoModel())]
