"""The SageMaker and Vertex container contracts, called the way their platforms call a
container: every request shape byom's codecs send, answered in the container's own
format, errors in the container's error shape, health 503 until the models are built."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from serve_helpers import audited_calls

from byom_sdk import Capabilities
from byom_sdk.serve import create_app
from byom_sdk.testing import ScriptedModel

VERTEX_ENV = {
    "AIP_HEALTH_ROUTE": "/v1/endpoints/42/deployedModels/7",
    "AIP_PREDICT_ROUTE": "/v1/endpoints/42/deployedModels/7:predict",
}
PREDICT = VERTEX_ENV["AIP_PREDICT_ROUTE"]


@pytest.fixture
def bot():
    return ScriptedModel(embedding_dimension=4)


@pytest.fixture
def embedder():
    return ScriptedModel(embedding_dimension=4, capabilities=Capabilities(embed=True))


@pytest.fixture
def container(make_client, start_server, bot, embedder):
    """``bot`` (generates and embeds) and ``embedder`` (embeds only) behind both profiles."""
    client = make_client({"bot": bot, "embedder": embedder})
    app = create_app(client, profile=["sagemaker", "vertex"], models=["bot", "embedder"], environ=VERTEX_ENV)
    server = start_server(app)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield client, http


def sse_records(text: str) -> list:
    out = []
    for line in text.splitlines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            out.append(json.loads(line[5:]))
    return out


def test_tgi_generate_and_stream(container, bot):
    _, http = container
    answer = http.post(
        "/invocations", json={"inputs": "hello there you", "parameters": {"max_new_tokens": 2, "do_sample": False}}
    )
    [item] = answer.json()
    assert item["generated_text"] == "echo: hello" and item["details"]["finish_reason"] == "length"
    assert item["details"]["generated_tokens"] == 2 and item["details"]["input_length"] == 3
    assert bot.requests[-1].temperature == 0.0  # do_sample=false is greedy
    streamed = http.post("/invocations", json={"inputs": "hi you", "parameters": {}, "stream": True})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert "data:{" in streamed.text  # TGI writes no space after data:
    records = sse_records(streamed.text)
    assert "".join(r["token"]["text"] for r in records if not r["token"]["special"]) == "echo: hi you"
    assert records[-1]["generated_text"] == "echo: hi you" and records[-1]["details"]["finish_reason"] == "eos_token"


def test_lmi_json_lines_when_accept_asks_for_them(container):
    _, http = container
    body = {"inputs": "jsonl please", "parameters": {"stop_sequences": ["please"]}, "stream": True}
    streamed = http.post("/invocations", json=body, headers={"Accept": "application/jsonlines"})
    assert streamed.headers["content-type"] == "application/jsonlines"
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert lines[-1]["generated_text"] == "echo: jsonl "


def test_openai_bodies(container):
    _, http = container
    chat = http.post("/invocations", json={"messages": [{"role": "user", "content": "hey"}], "max_tokens": 5}).json()
    assert chat["object"] == "chat.completion" and chat["choices"][0]["message"]["content"] == "echo: hey"
    body = {"messages": [{"role": "user", "content": "a b"}], "stream": True, "stream_options": {"include_usage": True}}
    streamed = http.post("/invocations", json=body)
    assert streamed.text.rstrip().endswith("data: [DONE]")
    chunks = sse_records(streamed.text)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "echo: a b"
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    completion = http.post("/invocations", json={"prompt": "complete"}).json()
    assert completion["object"] == "text_completion" and completion["choices"][0]["text"] == "echo: complete"


def test_jumpstart_bodies(container, bot):
    _, http = container
    text2text = http.post("/invocations", json={"text_inputs": "t5 style", "max_length": 2}).json()
    assert text2text == {"generated_texts": ["echo: t5"]}
    dialogs = {"inputs": [[{"role": "user", "content": "llama"}]], "parameters": {"max_new_tokens": 5}}
    assert http.post("/invocations", json=dialogs).json() == [
        {"generation": {"role": "assistant", "content": "echo: llama"}}
    ]
    embedded = http.post("/invocations", json={"text_inputs": ["x", "y"]}).json()
    assert embedded == {"embedding": [list(v) for v in bot.embed(["x", "y"]).vectors]}


def test_tei_embeddings_on_an_embedding_model(container, embedder):
    _, http = container
    # Container routes answer with the first served model; a body naming another picks it.
    vectors = http.post("/invocations", json={"model": "embedder", "inputs": ["one", "two"], "truncate": False}).json()
    assert vectors == [list(v) for v in embedder.embed(["one", "two"]).vectors]
    single = http.post("/invocations", json={"model": "embedder", "inputs": "one"}).json()
    assert single == vectors[:1]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"inputs": ', 400),
        (b"[1, 2]", 400),
        (b'{"question": "what?"}', 422),
        (b'{"inputs": "x", "parameters": {"temperature": -1}}', 400),
        (b'{"inputs": 42}', 400),
        (b'{"messages": [{"role": "user", "content": "x"}], "n": 1000}', 400),
    ],
)
def test_sagemaker_errors_are_the_containers_shape(container, body, status):
    client, http = container
    response = http.post("/invocations", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    error = response.json()
    assert set(error) == {"error", "error_type"} and error["error_type"] == "validation"
    assert audited_calls(client) == []


def test_vertex_instances(container, bot):
    _, http = container
    assert http.get(VERTEX_ENV["AIP_HEALTH_ROUTE"]).status_code == 200
    assert http.post("/predict", json={"instances": [{"prompt": "x"}]}).status_code == 404  # only AIP_PREDICT_ROUTE
    body = {
        "instances": [
            {"prompt": "vllm raw", "max_tokens": 2.0, "raw_response": True},  # ints arrive as doubles
            {"prompt": "vllm wrapped"},
            {"@requestFormat": "chatCompletions", "messages": [{"role": "user", "content": "garden"}]},
            {"inputs": "tgi here", "parameters": {"max_new_tokens": 2}},
            {"messages": [{"role": "user", "content": "tgi chat"}]},
        ],
        "parameters": {"temperature": 0.0},
    }
    predictions = http.post(PREDICT, json=body).json()["predictions"]
    assert predictions[0] == "echo: vllm"
    assert predictions[1] == "Prompt:\nvllm wrapped\nOutput:\necho: vllm wrapped"
    assert predictions[2]["object"] == "chat.completion"
    assert predictions[2]["choices"][0]["message"]["content"] == "echo: garden"
    assert predictions[3:] == ["echo: tgi", "echo: tgi chat"]
    assert all(r.temperature == 0.0 for r in bot.requests[-5:])


def test_vertex_embeddings_and_raw_bodies(container, embedder):
    _, http = container
    tei = http.post(PREDICT, json={"model": "embedder", "instances": [{"inputs": "a"}, {"inputs": ["b", "c"]}]})
    assert tei.json()["predictions"] == [
        [list(v) for v in embedder.embed(["a"]).vectors],
        [list(v) for v in embedder.embed(["b", "c"]).vectors],
    ]
    google = http.post(PREDICT, json={"model": "embedder", "instances": [{"content": "d", "task_type": "QUERY"}]})
    [prediction] = google.json()["predictions"]
    assert prediction["embeddings"]["values"] == list(embedder.embed("d").vectors[0])
    assert prediction["embeddings"]["statistics"]["token_count"] >= 1
    raw = http.post(PREDICT, json={"model": "", "messages": [{"role": "user", "content": "raw"}]}).json()
    assert raw["choices"][0]["message"]["content"] == "echo: raw"
    streamed = http.post(PREDICT, json={"messages": [{"role": "user", "content": "s"}], "stream": True})
    assert streamed.text.rstrip().endswith("data: [DONE]")


def test_a_bad_vertex_instance_fails_before_any_model_call(container):
    client, http = container
    body = {"instances": [{"prompt": "fine"}, {"neither": "prompt nor inputs"}]}
    response = http.post(PREDICT, json=body)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": 400,
        "message": "'instances.1' needs 'prompt', 'messages', 'inputs' or 'content'",
        "status": "INVALID_ARGUMENT",
    }
    assert http.post(PREDICT, json={"instances": []}).json()["error"]["status"] == "INVALID_ARGUMENT"
    assert audited_calls(client) == []


def test_health_is_503_until_the_models_are_built(make_client, start_server):
    client = make_client({"bot": ScriptedModel()})
    built = threading.Event()
    build = client.model

    def slow_model(alias):
        built.wait(10)
        return build(alias)

    client.model = slow_model  # the model takes a while to load (a large local model)
    server = start_server(create_app(client, profile="sagemaker"))
    with httpx.Client(base_url=server.url) as http:
        loading = http.get("/ping")
        assert loading.status_code == 503 and loading.json() == {"status": "loading"}
        built.set()
        for _ in range(200):
            if http.get("/ping").status_code == 200:
                break
            threading.Event().wait(0.01)
        ready = http.get("/ping")
        assert ready.status_code == 200 and ready.content == b""


def test_a_model_that_cannot_load_keeps_health_failing(make_client, start_server):
    client = make_client({"bot": ScriptedModel()})

    def broken(alias):
        raise RuntimeError("weights missing")

    client.model = broken
    server = start_server(create_app(client, profile="sagemaker"))
    with httpx.Client(base_url=server.url) as http:
        for _ in range(200):
            health = http.get("/ping")
            if health.json()["status"] == "failed":
                break
            threading.Event().wait(0.01)
        assert health.status_code == 503 and health.json() == {"status": "failed"}
        answer = http.post("/invocations", json={"inputs": "x", "parameters": {}})
        # Why it failed is the serving side's business (it may name endpoints): the log has it.
        assert answer.status_code == 503 and "'bot' could not be loaded" in answer.json()["error"]
        assert "weights missing" not in answer.text and answer.json()["error_type"] == "unavailable"


def test_tgi_grammar_is_a_response_format(make_client, start_server):
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    model = ScriptedModel(['{"title": "Printer"}'])
    client = make_client({"bot": model})
    server = start_server(create_app(client, profile="sagemaker"))
    with httpx.Client(base_url=server.url) as http:
        body = {"inputs": "ticket 4711", "parameters": {"grammar": {"type": "json", "value": schema}}}
        [item] = http.post("/invocations", json=body).json()
        assert json.loads(item["generated_text"]) == {"title": "Printer"}
        regex = {"inputs": "x", "parameters": {"grammar": {"type": "regex", "value": "a+"}}}
        refused = http.post("/invocations", json=regex)
    assert refused.status_code == 400 and "grammar" in refused.json()["error"]
    assert [c["outcome"] for c in audited_calls(client)] == ["ok"]
