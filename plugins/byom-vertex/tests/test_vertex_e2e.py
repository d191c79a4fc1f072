"""End to end: the real GAPIC clients (sync and async, gRPC and REST) against the local
Vertex server, for every codec, through ``byom_sdk.Client`` (so the core retry policy and
middleware run)."""

from __future__ import annotations

import pytest
from byom_vertex.testing import LocalVertexServer

import byom_sdk
from byom_sdk.testing import ScriptedModel

TRANSPORTS = ["grpc", "rest"]
GENERATORS = ["vllm", "tgi", "openai"]
EMBEDDERS = ["tei", "google-embeddings"]
REPLY = "The quick brown fox jumps over the lazy dog"
NO_SLEEP = {"initial_backoff": 0.0, "max_backoff": 0.0, "jitter": False}


@pytest.fixture(scope="module", params=GENERATORS + EMBEDDERS)
def codec_server(request):
    model = ScriptedModel([REPLY], embedding_dimension=16)
    with LocalVertexServer(model, codec=request.param) as server:
        yield server


@pytest.fixture(params=TRANSPORTS)
def client_model(request, codec_server):
    codec_server.clear()
    client = byom_sdk.Client(
        models={"m": codec_server.model_config(transport=request.param)},
        retry=NO_SLEEP,
        policy={"allow_loopback": True},
    )
    with client:
        yield codec_server, client.model("m"), request.param


def _prompts(codec: str):
    chat = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "tell me"}]
    return [chat] if codec == "openai" else [chat, "tell me"]


def _expected_method(codec: str, op: str, transport: str) -> str:
    if op == "stream":
        return "streamRawPredict"
    if op == "generate":
        return "rawPredict" if codec == "openai" else "predict"
    return "predict"


def test_generate_and_stream_agree(client_model, loopback_peers):
    server, model, transport = client_model
    if server.codec in EMBEDDERS:
        with pytest.raises(byom_sdk.CapabilityNotSupported):
            model.generate("hi")
        assert server.count() == 0
        return
    for prompt in _prompts(server.codec):
        server.clear()
        reply = model.generate(prompt, temperature=0.0, max_tokens=50)
        assert reply.text == REPLY
        assert reply.finish_reason == "stop"
        assert reply.model == "vertex/1234567890"
        assert reply.usage.output_tokens > 0
        events = list(model.stream(prompt, temperature=0.0, max_tokens=50))
        deltas = [e for e in events if isinstance(e, byom_sdk.TextDelta)]
        assert "".join(d.text for d in deltas) == reply.text
        assert len(deltas) > 1, "stream arrived in one piece"
        assert isinstance(events[-1], byom_sdk.FinishEvent)
        assert sum(isinstance(e, byom_sdk.FinishEvent) for e in events) == 1
        assert events[-1].finish_reason == "stop"
        methods = [r.method for r in server.requests]
        assert methods == [_expected_method(server.codec, "generate", transport), "streamRawPredict"]
        assert all(r.transport == transport for r in server.requests)
        assert all(r.endpoint == server.resource for r in server.requests)
    loopback_peers(server)


async def test_async_generate_and_stream(client_model, loopback_peers):
    server, model, _ = client_model
    if server.codec in EMBEDDERS:
        reply = await model.aembed(["alpha", "beta gamma"])
        assert len(reply.vectors) == 2 and reply.dimension == 16
        assert server.count("predict") == 1
        return
    prompt = _prompts(server.codec)[0]
    reply = await model.agenerate(prompt, temperature=0.0)
    events = [e async for e in model.astream(prompt, temperature=0.0)]
    assert reply.text == REPLY
    assert "".join(e.text for e in events if isinstance(e, byom_sdk.TextDelta)) == REPLY
    assert isinstance(events[-1], byom_sdk.FinishEvent)
    assert server.count() == 2
    loopback_peers(server)


def test_embed(client_model, loopback_peers):
    server, model, _ = client_model
    if server.codec not in EMBEDDERS:
        with pytest.raises(byom_sdk.CapabilityNotSupported):
            model.embed("hi")
        return
    texts = ["first text", "second", "third one here"]
    reply = model.embed(texts)
    expected = server.model.embed(texts)
    assert len(reply.vectors) == 3
    for got, want in zip(reply.vectors, expected.vectors, strict=True):
        assert got == pytest.approx(want, abs=1e-6)
    assert server.count("predict") == 1
    body = server.requests[0].body
    if server.codec == "tei":
        assert body["instances"] == [{"inputs": t} for t in texts]
    else:
        assert body["instances"] == [{"content": t} for t in texts]
        assert reply.usage is not None and reply.usage.source == "server"
    loopback_peers(server)


def test_max_tokens_and_stop_reach_the_container(client_model):
    server, model, _ = client_model
    if server.codec in EMBEDDERS:
        with pytest.raises(byom_sdk.CapabilityNotSupported):
            model.stream("hi", max_tokens=3)
        assert server.count() == 0
        return
    prompt = _prompts(server.codec)[0]
    reply = model.generate(prompt, max_tokens=3, temperature=0.0)
    assert reply.text == "The quick brown"
    if server.codec != "tgi":  # TGI predictions are bare strings: no finish reason on the wire
        assert reply.finish_reason == "length"
    streamed = list(model.stream(prompt, max_tokens=3, temperature=0.0))
    assert "".join(e.text for e in streamed if isinstance(e, byom_sdk.TextDelta)) == "The quick brown"
    assert streamed[-1].finish_reason == "length"
    cut = model.generate(prompt, stop=[" fox"], temperature=0.0)
    assert cut.text == "The quick brown"


def test_request_bodies_follow_each_container_format(client_model):
    server, model, _ = client_model
    if server.codec in EMBEDDERS:
        model.embed("tell me")
        assert server.requests[-1].method == "predict"
        return
    model.generate(
        "tell me" if server.codec != "openai" else [{"role": "user", "content": "tell me"}],
        max_tokens=7,
        temperature=0.0,
        top_p=0.9,
        seed=3,
    )
    body = server.requests[-1].body
    if server.codec == "vllm":
        (instance,) = body["instances"]
        assert instance["prompt"] == "tell me" and instance["raw_response"] is True
        assert instance["max_tokens"] == 7 and instance["top_p"] == pytest.approx(0.9)
    elif server.codec == "tgi":
        (instance,) = body["instances"]
        assert instance["inputs"] == "tell me"
        assert instance["parameters"]["max_new_tokens"] == 7
        assert instance["parameters"]["do_sample"] is False
        assert "temperature" not in instance["parameters"]  # TGI refuses temperature 0
    else:
        assert body["messages"] == [{"role": "user", "content": "tell me"}]
        assert body["max_tokens"] == 7 and body["seed"] == 3 and body["model"] == ""
    if server.codec != "openai":
        model.generate([{"role": "user", "content": "hi"}])
        chat = server.requests[-1].body["instances"][0]
        assert chat["messages"] == [{"role": "user", "content": "hi"}]
        if server.codec == "vllm":
            assert chat["@requestFormat"] == "chatCompletions"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_vllm_chat_predictions_as_a_single_object(transport):
    """Some vLLM endpoints answer chat with ``predictions`` = one chat.completion object.
    gRPC PredictResponse cannot carry that (the service wraps it); over REST GAPIC cannot
    parse it, which is reported as a ModelError with the fix, and rawPredict reads it."""
    from byom_vertex.testing import VLLMContainer

    container = VLLMContainer(ScriptedModel([REPLY]), chat_predictions="dict")
    chat = [{"role": "user", "content": "hi"}]
    with LocalVertexServer(container=container, codec="vllm") as server:
        with server.vertex_model(transport=transport) as model:
            if transport == "rest":
                with pytest.raises(byom_sdk.ModelError, match="use_raw_predict"):
                    model.generate(chat)
            else:
                assert model.generate(chat).text == REPLY
        with server.vertex_model(transport=transport, codec_options={"use_raw_predict": True}) as model:
            reply = model.generate(chat)
        assert reply.text == REPLY and reply.usage.source == "server"
        assert server.requests[-1].method == "rawPredict"
        assert server.requests[-1].body["instances"][0]["@requestFormat"] == "chatCompletions"


@pytest.mark.parametrize("rest_raw", ["http", "gapic"])
@pytest.mark.parametrize("codec", ["openai", "vllm"])
def test_rest_raw_calls_plain_or_gapic_wrapped(codec, rest_raw):
    """REST raw calls post the container's own body by default (rest_raw="http"); with
    rest_raw="gapic" they go through the GAPIC REST client as wrapped HttpBody JSON."""
    chat = [{"role": "user", "content": "hi"}]
    with LocalVertexServer(ScriptedModel([REPLY]), codec=codec) as server:
        with byom_sdk.Client(
            models={"m": server.model_config(transport="rest", rest_raw=rest_raw)}, policy={"allow_loopback": True}
        ) as client:
            model = client.model("m")
            assert model.generate(chat).text == REPLY
            streamed = list(model.stream(chat))
        assert "".join(e.text for e in streamed if isinstance(e, byom_sdk.TextDelta)) == REPLY
        raw_calls = [r for r in server.requests if r.method in ("rawPredict", "streamRawPredict")]
        assert raw_calls
        assert all(r.wrapped is (rest_raw == "gapic") for r in raw_calls)
        assert all(r.headers["x-goog-request-params"] == f"endpoint={server.resource}" for r in raw_calls)
