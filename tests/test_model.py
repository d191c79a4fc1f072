"""The Model base class: sync/async parity, capability checks, input forms."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from byom_sdk import (
    Boundary,
    Capabilities,
    CapabilityNotSupported,
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    Model,
    ModelInfo,
    TextDelta,
    Usage,
)
from byom_sdk.testing import ScriptedModel, WhitespaceTokenizer

BOUNDARY = Boundary(provider="t", location_kind="process", retention="none")


def _info(**caps) -> ModelInfo:
    return ModelInfo(id="t", provider="t", capabilities=Capabilities(**caps), boundary=BOUNDARY, embedding_dimension=2)


class SyncOnly(Model):
    """Implements only the sync side; records which threads served calls."""

    info = _info(generate=True, chat=True, stream=True, embed=True)

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.threads: list[str] = []

    def _generate(self, request: GenerateRequest) -> GenerateResponse:
        self.threads.append(threading.current_thread().name)
        time.sleep(self.delay)
        text = f"sync:{request.as_messages()[-1].content}"
        return GenerateResponse(text=text, finish_reason="stop", model="t", usage=Usage.estimate("", text))

    def _stream(self, request: GenerateRequest) -> Iterator:
        yield TextDelta(text="sync:")
        yield TextDelta(text=request.as_messages()[-1].content)
        yield FinishEvent(finish_reason="stop")

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        return EmbedResponse(vectors=tuple((float(len(t)), 1.0) for t in request.texts), model="t")


class AsyncOnly(Model):
    """Implements only the async side."""

    info = _info(generate=True, chat=True, stream=True, embed=True, async_native=True)

    async def _agenerate(self, request: GenerateRequest) -> GenerateResponse:
        await asyncio.sleep(0)
        text = f"async:{request.as_messages()[-1].content}"
        return GenerateResponse(text=text, finish_reason="stop", model="t", usage=Usage.estimate("", text))

    async def _astream(self, request: GenerateRequest) -> AsyncIterator:
        yield TextDelta(text="async:")
        await asyncio.sleep(0)
        yield TextDelta(text=request.as_messages()[-1].content)
        yield FinishEvent(finish_reason="stop")

    async def _aembed(self, request: EmbedRequest) -> EmbedResponse:
        return EmbedResponse(vectors=tuple((float(len(t)), 2.0) for t in request.texts), model="t")


def _text(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_sync_plugin_gets_async_twins():
    """A sync-only plugin answers agenerate/astream/aembed with the same results."""
    model = SyncOnly()

    async def run():
        response = await model.agenerate("hi")
        events = [e async for e in model.astream("hi")]
        vectors = await model.aembed(["abc"])
        return response, events, vectors

    response, events, vectors = asyncio.run(run())
    assert response.text == model.generate("hi").text == "sync:hi"
    assert _text(events) == _text(model.stream("hi")) == "sync:hi"
    assert isinstance(events[-1], FinishEvent)
    assert vectors.vectors == model.embed(["abc"]).vectors


def test_async_plugin_gets_sync_twins_even_inside_a_running_loop():
    """An async-only plugin answers sync calls, also from code running inside an event loop."""
    model = AsyncOnly()
    assert model.generate("hi").text == "async:hi"
    assert _text(model.stream("hi")) == "async:hi"
    assert model.embed("abcd").vectors == ((4.0, 2.0),)

    async def inside_loop():
        return model.generate("nested").text

    assert asyncio.run(inside_loop()) == "async:nested"


def test_async_twin_does_not_block_the_event_loop():
    """While a slow sync plugin works, the caller's event loop keeps running other tasks."""
    model = SyncOnly(delay=0.3)
    ticks = []

    async def ticker():
        for _ in range(5):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    async def run():
        await asyncio.gather(model.agenerate("slow"), ticker())

    asyncio.run(run())
    assert len(ticks) == 5
    assert ticks[-1] - ticks[0] < 0.25  # the ticker ran during the 0.3 s call
    assert model.threads and model.threads[0] != threading.main_thread().name


def test_stream_early_close_closes_the_async_source():
    """Abandoning a bridged stream closes the plugin's async generator."""
    closed = []

    class Tracking(AsyncOnly):
        async def _astream(self, request):
            try:
                for i in range(100):
                    yield TextDelta(text=str(i))
            finally:
                closed.append(True)

    stream = Tracking().stream("x")
    assert next(stream).text == "0"
    stream.close()
    assert closed == [True]


@pytest.mark.parametrize(
    ("caps", "call", "capability"),
    [
        ({"generate": True}, lambda m: list(m.stream("x")), "stream"),
        ({"generate": True}, lambda m: m.embed("x"), "embed"),
        ({"embed": True}, lambda m: m.generate("x"), "generate"),
        ({"generate": True}, lambda m: m.generate([{"role": "user", "content": "x"}]), "chat"),
        ({"generate": True, "stop_sequences": False}, lambda m: m.generate("x", stop="y"), "stop_sequences"),
    ],
)
def test_undeclared_capability_raises(caps, call, capability):
    """Calling a capability the model did not declare raises CapabilityNotSupported."""

    class Limited(SyncOnly):
        info = _info(**caps)

    with pytest.raises(CapabilityNotSupported) as info:
        call(Limited())
    assert info.value.capability == capability
    assert "'t'" in str(info.value)


def test_async_undeclared_capability_raises_too():
    """The async twins check capabilities the same way."""

    class NoEmbed(SyncOnly):
        info = _info(generate=True)

    with pytest.raises(CapabilityNotSupported):
        asyncio.run(NoEmbed().aembed("x"))


def test_messages_rendered_with_chat_template_when_model_lacks_chat():
    """A prompt-only model with a tokenizer gets messages rendered by its chat template."""
    seen = []

    class PromptOnly(SyncOnly):
        info = _info(generate=True)

        @property
        def tokenizer(self):
            return WhitespaceTokenizer()

        def _generate(self, request):
            seen.append(request)
            return super()._generate(request)

    PromptOnly().generate([{"role": "user", "content": "hello"}])
    assert seen[0].messages is None
    assert seen[0].prompt == "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"


def test_prompt_string_and_message_list_both_accepted():
    """Prompt strings, dict messages and Message objects are all accepted."""
    model = ScriptedModel()
    assert model.generate("plain").text == "echo: plain"
    assert model.generate([{"role": "user", "content": "dict"}]).text == "echo: dict"
    from byom_sdk import Message

    assert model.generate([Message(role="user", content="obj")]).text == "echo: obj"


def test_missing_implementation_names_the_class():
    """A plugin that implements neither side gets an error naming its class and the hook."""

    class Empty(Model):
        info = _info(generate=True)

    with pytest.raises(NotImplementedError, match="Empty must implement '_generate' or '_agenerate'"):
        Empty().generate("x")


def test_close_is_idempotent_and_context_managed():
    """close() runs the plugin's _close once; `with` closes too."""
    calls = []

    class Closing(SyncOnly):
        def _close(self):
            calls.append(1)

    with Closing() as model:
        pass
    model.close()
    assert calls == [1] and model.closed


def test_calls_after_close_are_refused():
    """After close(), every public call raises a ByomError saying the model is closed."""
    from byom_sdk import ByomError

    model = ScriptedModel()
    model.close()
    for call in (
        lambda: model.generate("x"),
        lambda: list(model.stream("x")),
        lambda: model.embed("x"),
        lambda: asyncio.run(model.agenerate("x")),
    ):
        with pytest.raises(ByomError, match="model 'scripted' is closed"):
            call()


class DropsAVector(SyncOnly):
    """Answers one vector fewer than it was given texts (a batch cut at a limit)."""

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        return EmbedResponse(vectors=tuple((1.0, 0.0) for _ in request.texts[1:]), model="t")


def test_a_provider_answering_the_wrong_number_of_vectors_is_at_fault():
    from byom_sdk import Client, ProviderError

    with Client(models={"m": DropsAVector()}, trust="off") as client:
        with pytest.raises(ProviderError, match=r"returned 2 vector\(s\) for 3 text\(s\)"):
            client.model("m").embed(["a", "b", "c"])
        with pytest.raises(ProviderError, match="vector"):
            asyncio.run(client.model("m").aembed(["a", "b", "c"]))
