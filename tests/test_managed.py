"""The managed model: middleware composed once per model, interceptor order, error wrapping."""

from __future__ import annotations

import asyncio

import pytest

from byom_sdk import (
    Client,
    FinishEvent,
    Interceptor,
    MiddlewareSpec,
    ProviderError,
    TextDelta,
    Throttled,
    hookimpl,
)
from byom_sdk.testing import ScriptedModel, isolated_registry


class Recorder(Interceptor):
    def __init__(self, name, log):
        self.name, self.log = name, log

    def on_request(self, request):
        self.log.append(f"{self.name}.request")
        return request.model_copy(update={"prompt": f"{request.prompt}+{self.name}"})

    def on_response(self, response):
        self.log.append(f"{self.name}.response")
        return response.model_copy(update={"text": f"{response.text}|{self.name}"})

    def on_event(self, event):
        if isinstance(event, TextDelta):
            return (TextDelta(text=event.text.upper()),)
        return (event,)

    def on_error(self, error):
        self.log.append(f"{self.name}.error:{type(error).__name__}")

    def on_end(self):
        self.log.append(f"{self.name}.end")


class RecordingMiddleware:
    def __init__(self, name, log):
        self.name, self.log = name, log

    def open(self, call):
        self.log.append(f"{self.name}.open:{call.alias}:{call.operation}")
        return Recorder(self.name, self.log)


def _plugin(log, factory_calls):
    class Plugin:
        @hookimpl
        def byom_middleware(self):
            def make(name):
                def factory(alias, info):
                    factory_calls.append((name, alias))
                    return RecordingMiddleware(name, log)

                return factory

            # registered out of order on purpose: `order` decides
            return [
                MiddlewareSpec(name="inner", factory=make("inner"), order=20),
                MiddlewareSpec(name="outer", factory=make("outer"), order=10),
            ]

    return Plugin()


def test_middleware_order_and_composition_once_per_model():
    """Factories run once per model; interceptors wrap calls outermost-first in `order`."""
    log, calls = [], []
    with isolated_registry(_plugin(log, calls)):
        model = Client(models={"m": ScriptedModel(lambda r: r.prompt)}, trust="off").model("m")
        first = model.generate("p")
        second = model.generate("q")
    assert calls == [("outer", "m"), ("inner", "m")]
    assert first.text == "p+outer+inner|inner|outer"
    assert second.text == "q+outer+inner|inner|outer"
    assert log[:6] == [
        "outer.open:m:generate",
        "inner.open:m:generate",
        "outer.request",
        "inner.request",
        "inner.response",
        "outer.response",
    ]
    assert log[6:8] == ["inner.end", "outer.end"]


def test_stream_events_pass_through_interceptors():
    """Stream events go through on_event; on_end runs after the stream is drained."""
    log, calls = [], []
    with isolated_registry(_plugin(log, calls)):
        model = Client(models={"m": ScriptedModel(["a b"])}, trust="off").model("m")
        events = list(model.stream("x"))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "A B"
    assert isinstance(events[-1], FinishEvent)
    assert log[-2:] == ["inner.end", "outer.end"]


def test_errors_reach_every_interceptor_once():
    """A failing call reports on_error then on_end to every opened interceptor."""
    log, calls = [], []
    with isolated_registry(_plugin(log, calls)):
        model = Client(
            models={"m": ScriptedModel(["x"], failures=[Throttled("a"), Throttled("b")])},
            retry={"max_attempts": 2, "initial_backoff": 0, "jitter": False},
            trust="off",
        ).model("m")
        with pytest.raises(Throttled):
            model.generate("x")
    assert log.count("inner.error:Throttled") == 1 and log.count("outer.end") == 1


def test_unmapped_plugin_exception_is_wrapped():
    """A raw exception a plugin lets escape reaches the app as ProviderError with the cause kept."""

    class Leaky(ScriptedModel):
        def _generate(self, request):
            raise KeyError("raw library error")

        def _stream(self, request):
            yield TextDelta(text="x")
            raise OSError("socket closed")

    model = Client(models={"m": Leaky()}, trust="off").model("m")
    with pytest.raises(ProviderError) as info:
        model.generate("x")
    assert isinstance(info.value.__cause__, KeyError)
    assert "provider 'scripted' raised KeyError" in str(info.value)
    assert not info.value.retryable
    with pytest.raises(ProviderError) as info:
        list(model.stream("x"))
    assert isinstance(info.value.__cause__, OSError)

    async def run():
        return await model.agenerate("x")

    with pytest.raises(ProviderError):
        asyncio.run(run())


def test_abandoned_stream_still_ends_interceptors():
    """Closing a stream early still calls on_end (so audit records are written)."""
    log, calls = [], []
    with isolated_registry(_plugin(log, calls)):
        model = Client(models={"m": ScriptedModel(["a b c d"])}, trust="off").model("m")
        stream = model.stream("x")
        next(stream)
        stream.close()
    assert log[-2:] == ["inner.end", "outer.end"]


def test_managed_embed_goes_through_interceptors():
    """Embedding calls open interceptors with operation 'embed'."""
    log, calls = [], []
    with isolated_registry(_plugin(log, calls)):
        model = Client(models={"m": ScriptedModel()}, trust="off").model("m")
        vectors = model.embed(["a", "b"])
    assert len(vectors.vectors) == 2 and vectors.dimension == 8
    assert "outer.open:m:embed" in log and log[-1] == "outer.end"


def test_an_unknown_generate_parameter_is_a_bad_request_naming_it():
    from byom_sdk import BadRequest

    model = ScriptedModel()
    for call in (
        lambda: model.generate("hi", max_token=3),
        lambda: list(model.stream("hi", max_token=3)),
        lambda: asyncio.run(model.agenerate("hi", max_token=3)),
    ):
        with pytest.raises(BadRequest, match="did you mean 'max_tokens'") as info:
            call()
        assert info.value.details["field"] == "max_token"
    assert model.requests == []  # nothing reached the model
