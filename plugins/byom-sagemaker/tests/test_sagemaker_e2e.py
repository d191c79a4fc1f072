"""End to end: the real boto3 client against the local server, for every codec.

Sync and async (the core bridges async to threads: boto3 has no async client here),
directly and through ``byom_sdk.Client`` (the ManagedModel path).
"""

from __future__ import annotations

import asyncio

import pytest

from byom_sdk import (
    BadRequest,
    CapabilityNotSupported,
    FinishEvent,
    ModelError,
    TextDelta,
    UsageEvent,
)
from byom_sdk.testing import ScriptedModel

REPLY = "The quick brown fox jumps over the lazy dog"

# (codec, server personality options, client codec options)
GENERATORS = {
    "tgi": ({}, {}),
    "lmi": ({}, {}),
    "lmi-sse": ({"stream_format": "sse"}, {"stream_format": "sse"}),
    "openai": ({}, {}),
    "openai-jsonlines": ({"stream_format": "jsonlines"}, {"stream_format": "jsonlines"}),
    "jumpstart-llama-chat": ({"variant": "llama-chat"}, {"variant": "llama-chat", "accept_eula": True}),
    "jumpstart-llama-text": ({"variant": "llama-text"}, {"variant": "llama-text", "accept_eula": True}),
}
STREAMING = sorted(GENERATORS)


def _codec(case: str) -> str:
    return case.split("-")[0]


@pytest.fixture
def endpoint(server, request):
    case = request.param
    server_opts, _ = GENERATORS[case]
    name = f"ep-{case}"
    server.add_endpoint(name, _codec(case), ScriptedModel([REPLY]), **server_opts)
    return case, name


def _model(make_model, case, name, **overrides):
    _, client_opts = GENERATORS[case]
    return make_model(name, codec=_codec(case), codec_options=client_opts, **overrides)


def _text(events):
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("endpoint", sorted(GENERATORS), indirect=True)
def test_generate_and_stream_sync(server, make_model, endpoint):
    case, name = endpoint
    model = _model(make_model, case, name)
    reply = model.generate("Say it", temperature=0)
    assert reply.text == REPLY
    assert reply.finish_reason == "stop"
    assert reply.model == name
    events = list(model.stream("Say it", temperature=0))
    assert _text(events) == reply.text  # streamed deltas equal the non-streamed text
    assert isinstance(events[-1], FinishEvent) and sum(isinstance(e, FinishEvent) for e in events) == 1
    ops = [(r.operation, r.status, r.signature) for r in server.requests_for(name)]
    assert ops == [("invoke", 200, "valid"), ("invoke_stream", 200, "valid")]
    stream_request = server.requests_for(name)[1]
    assert stream_request.header("x-amzn-sagemaker-accept") == model.codec.stream_accept


@pytest.mark.parametrize("endpoint", sorted(GENERATORS), indirect=True)
async def test_generate_and_stream_async(server, make_model, endpoint):
    case, name = endpoint
    model = _model(make_model, case, name)
    replies = await asyncio.gather(*(model.agenerate(f"q{i}", temperature=0) for i in range(3)))
    assert [r.text for r in replies] == [REPLY] * 3
    events = [e async for e in model.astream("Say it", temperature=0)]
    assert _text(events) == REPLY
    assert isinstance(events[-1], FinishEvent)
    assert len(server.requests_for(name)) == 4


@pytest.mark.parametrize("endpoint", ["tgi", "lmi", "openai", "jumpstart-llama-chat"], indirect=True)
def test_max_tokens_and_stop_are_honoured(server, make_model, endpoint):
    case, name = endpoint
    model = _model(make_model, case, name)
    short = model.generate("Say it", max_tokens=3, temperature=0)
    assert short.text == "The quick brown"
    assert short.finish_reason == ("stop" if case.startswith("jumpstart") else "length")
    if model.info.capabilities.stop_sequences:
        stopped = model.generate("Say it", stop=[" jumps"], temperature=0)
        assert stopped.text == "The quick brown fox"
        assert stopped.finish_reason == "stop"
        streamed = list(model.stream("Say it", stop=[" jumps"], temperature=0))
        assert _text(streamed) == "The quick brown fox"
    else:
        with pytest.raises(CapabilityNotSupported):
            model.generate("Say it", stop=["x"])


@pytest.mark.parametrize("endpoint", sorted(GENERATORS), indirect=True)
def test_through_client_sync_and_async(server, make_client, endpoint):
    case, name = endpoint
    _, client_opts = GENERATORS[case]
    client = make_client({"bot": server.model_config(name, codec=_codec(case), codec_options=client_opts)})
    model = client.model("bot")
    assert model.generate("hello", temperature=0).text == REPLY
    assert _text(model.stream("hello", temperature=0)) == REPLY

    async def run():
        reply = await model.agenerate("hello", temperature=0)
        events = [e async for e in model.astream("hello", temperature=0)]
        return reply, events

    reply, events = asyncio.run(run())
    assert reply.text == REPLY and _text(events) == REPLY
    assert [r.operation for r in server.requests_for(name)] == ["invoke", "invoke_stream"] * 2


def test_openai_usage_comes_from_the_server(server, make_model):
    server.add_endpoint("chat", "openai", ScriptedModel([REPLY]))
    model = make_model("chat")
    reply = model.generate([{"role": "system", "content": "Be terse"}, {"role": "user", "content": "go"}])
    assert reply.usage.source == "server"
    assert reply.usage.output_tokens == len(REPLY.split())
    events = list(model.stream("go"))
    usage = [e for e in events if isinstance(e, UsageEvent)]
    assert len(usage) == 1 and usage[0].usage.source == "server"
    sent = server.requests_for("chat")[0].json
    assert sent["messages"][0] == {"role": "system", "content": "Be terse"}


def test_tgi_usage_without_prompt_counts_is_an_estimate(server, make_model):
    server.add_endpoint("tgi", "tgi", ScriptedModel([REPLY]))
    reply = make_model("tgi").generate("Say it")
    assert reply.usage.source == "estimate"


@pytest.mark.parametrize(
    ("codec", "server_opts", "client_opts"),
    [("tei", {}, {}), ("jumpstart", {"variant": "embedding"}, {"variant": "embedding"})],
)
def test_embeddings_sync_async_and_through_client(server, make_model, make_client, codec, server_opts, client_opts):
    backend = ScriptedModel(embedding_dimension=16)
    server.add_endpoint("emb", codec, backend, **server_opts)
    model = make_model("emb", codec_options=client_opts, embedding_dimension=16)
    assert model.info.capabilities.embed and not model.info.capabilities.generate
    texts = ["alpha", "beta", "gamma"]
    reply = model.embed(texts)
    expected = backend.embed(texts)
    assert reply.dimension == 16
    for got, want in zip(reply.vectors, expected.vectors, strict=True):
        assert got == pytest.approx(want)
    assert reply.normalized
    again = asyncio.run(model.aembed(texts))
    assert again.vectors == reply.vectors
    client = make_client({"emb": server.model_config("emb", codec=codec, codec_options=client_opts)})
    assert client.model("emb").embed("alpha").vectors[0] == pytest.approx(reply.vectors[0])
    with pytest.raises(CapabilityNotSupported):
        model.generate("no")


def test_tei_sends_normalize_only_when_asked(server, make_model):
    server.add_endpoint("emb", "tei")
    model = make_model("emb")
    model.embed(["a"])
    model.embed(["a"], normalize=True)
    bodies = [r.json for r in server.requests_for("emb")]
    assert bodies == [{"inputs": ["a"], "truncate": False}, {"inputs": ["a"], "truncate": False, "normalize": True}]


def test_headers_reach_the_server(server, make_model):
    backend = ScriptedModel([REPLY])
    server.add_endpoint("ic-ep", "tgi", inference_components={"ic-llama": backend}, variants=("AllTraffic", "blue"))
    model = make_model(
        "ic-ep",
        inference_component="ic-llama",
        target_variant="blue",
        custom_attributes="trace=abc",
        session_id="sess-1",
    )
    model.generate("hi", metadata={"request_id": "req-42"})
    list(model.stream("hi"))
    invoke, stream = server.requests_for("ic-ep")
    for request in (invoke, stream):
        assert request.header("x-amzn-sagemaker-inference-component") == "ic-llama"
        assert request.header("x-amzn-sagemaker-target-variant") == "blue"
        assert request.header("x-amzn-sagemaker-custom-attributes") == "trace=abc"
        assert request.header("x-amzn-sagemaker-session-id") == "sess-1"
        assert request.header("content-type") == "application/json"
        assert request.signature == "valid"
        # botocore's own retry loop is taken off the client (the core RetryPolicy is the
        # only one), with the attempt-numbering headers that describe it.
        assert request.header("amz-sdk-request") is None
        assert request.header("amz-sdk-invocation-id") is None
        assert "byom-sagemaker/" in (request.header("user-agent") or "")
    assert invoke.header("x-amzn-sagemaker-inference-id") == "req-42"
    assert invoke.header("accept") == "application/json"
    assert stream.header("x-amzn-sagemaker-accept") == "text/event-stream"
    assert invoke.path == "/endpoints/ic-ep/invocations"
    assert stream.path == "/endpoints/ic-ep/invocations-response-stream"


def test_the_runtime_client_runs_no_per_call_step_that_has_nothing_to_do(server, make_model):
    server.add_endpoint("lean", "tgi")
    model = make_model("lean")
    client = model.client
    # botocore wraps its serializer in a validating decorator unless validation is off.
    assert type(client._serializer).__name__ != "ParamValidationDecorator"
    events = client.meta.events
    # No botocore retry check is left to run (test_sagemaker_faults counts one request per
    # core attempt; test_headers_reach_the_server finds no attempt headers).
    assert events.emit("needs-retry.sagemaker-runtime.InvokeEndpoint", attempts=1, response=None) == []
    assert model.generate("hi").text


def test_a_codec_header_that_is_not_a_string_is_refused_at_build(server):
    # botocore's own parameter validation is off: the model checks what the codec gives.
    from byom_sagemaker import SageMakerConfig, SageMakerModel

    from byom_sdk import ConfigError
    from byom_sdk.wire.hf import TGI

    class NoAccept(TGI):
        accept = None  # type: ignore[assignment]

    server.add_endpoint("codec-ep", "tgi")
    config = server.model_config("codec-ep")
    config.pop("provider")
    with pytest.raises(ConfigError, match="NoAccept gives Accept = None") as info:
        SageMakerModel(SageMakerConfig(**config), codec=NoAccept())
    assert info.value.field == "codec"


def test_target_model_is_sent_and_turns_streaming_off(server, make_model):
    server.add_endpoint("mme", "tgi")
    model = make_model("mme", target_model="model-a.tar.gz")
    model.generate("hi")
    assert server.requests_for("mme")[0].header("x-amzn-sagemaker-target-model") == "model-a.tar.gz"
    assert not model.info.capabilities.stream  # InvokeEndpointWithResponseStream has no TargetModel


def test_missing_inference_component_is_a_bad_request_with_a_hint(server, make_model):
    server.add_endpoint("ic-ep", "tgi", inference_components={"ic-a": ScriptedModel()})
    with pytest.raises(BadRequest, match=r"ic-ep.*Inference Component Name header is required.*inference_component"):
        make_model("ic-ep").generate("hi")


def test_jumpstart_llama_without_eula_is_refused_by_the_container(server, make_client):
    server.add_endpoint("llama", "jumpstart", variant="llama-chat")
    client = make_client({"m": server.model_config("llama", codec_options={"variant": "llama-chat"})})
    with pytest.raises(ModelError) as info:
        client.model("m").generate("hi")
    assert info.value.details["original_status_code"] == 400
    assert info.value.retryable is False and info.value.attempts == 1
    assert "accept_eula" in str(info.value)
    assert len(server.requests_for("llama")) == 1


def test_jumpstart_eula_is_appended_to_custom_attributes(server, make_model):
    server.add_endpoint("llama", "jumpstart", variant="llama-text")
    model = make_model(
        "llama", codec_options={"variant": "llama-text", "accept_eula": True}, custom_attributes="trace=1"
    )
    model.generate("hi")
    assert server.requests_for("llama")[0].header("x-amzn-sagemaker-custom-attributes") == "trace=1;accept_eula=true"


def test_jumpstart_text2text(server, make_model):
    server.add_endpoint("flan", "jumpstart", ScriptedModel([REPLY]), variant="text2text")
    model = make_model("flan", codec_options={"variant": "text2text"})
    assert not model.info.capabilities.stream
    assert model.generate("Translate", max_tokens=2, seed=3).text == "The quick"
    assert server.requests_for("flan")[0].json == {
        "text_inputs": "Translate",
        "max_length": 2,
        "seed": 3,
    }


def test_tgi_greedy_request_sends_no_temperature(server, make_model):
    server.add_endpoint("tgi", "tgi")
    make_model("tgi").generate("hi", temperature=0, max_tokens=5, top_p=1.0, seed=7, stop=["\n"])
    params = server.requests_for("tgi")[0].json["parameters"]
    assert params == {
        "details": True,
        "return_full_text": False,
        "max_new_tokens": 5,
        "seed": 7,
        "stop": ["\n"],
        "do_sample": False,
    }


def test_concurrent_calls_share_one_client(server, make_model):
    from concurrent.futures import ThreadPoolExecutor

    server.add_endpoint("tgi", "tgi", ScriptedModel([REPLY]))
    model = make_model("tgi")
    client = model.client
    with ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(lambda i: model.generate(f"q{i}").text, range(32)))
    assert texts == [REPLY] * 32
    assert model.client is client
    assert len(server.requests_for("tgi")) == 32


async def test_async_calls_do_not_block_the_event_loop(server, make_model):
    server.add_endpoint("slow", "tgi", ScriptedModel([REPLY]))
    server.inject("delay", seconds=0.5)
    server.inject("delay", seconds=0.5)
    model = make_model("slow")
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    reply = await model.agenerate("hi")
    events = [e async for e in model.astream("hi")]
    task.cancel()
    assert reply.text == REPLY and _text(events) == REPLY
    # A blocked loop would tick at most twice; a loaded 2-core CI box still manages dozens.
    assert ticks >= 10
