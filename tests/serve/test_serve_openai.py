"""The OpenAI-compatible API, driven by the real ``openai`` client over 127.0.0.1: chat,
streaming with include_usage, completions, embeddings, models, keys mapped to tenants, and
every failure as an OpenAI error object with its status."""

from __future__ import annotations

import base64
import json
import struct

import httpx
import pytest
from serve_helpers import ACME_KEY, GLOBEX_KEY, KEYS, PacedModel, audited_calls

from byom_sdk import Boundary, Capabilities, Throttled, Timeout
from byom_sdk.serve import create_app
from byom_sdk.testing import ScriptedModel

openai = pytest.importorskip("openai")

NO_RETRY = {"max_attempts": 1}


@pytest.fixture
def served(make_client, start_server):
    """``bot`` (echo) and ``other`` behind the OpenAI profile; returns (client, server, bot)."""
    bot = ScriptedModel(embedding_dimension=4)
    client = make_client({"bot": bot, "other": ScriptedModel(["from other"])}, retry=NO_RETRY)
    server = start_server(create_app(client, profile="openai", api_keys=KEYS))
    return client, server, bot


_opened: list = []


def oa(server, key=ACME_KEY):
    """The real openai client for ``server`` (closed after the test)."""
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
    _opened.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_openai_clients():
    yield
    while _opened:
        _opened.pop().close()


def test_models_are_listed_per_key(served):
    _, server, _ = served
    assert sorted(m.id for m in oa(server).models.list()) == ["bot", "other"]
    assert [m.id for m in oa(server, GLOBEX_KEY).models.list()] == ["bot"]  # globex may call bot only
    assert oa(server).models.retrieve("other").owned_by == "scripted"
    with pytest.raises(openai.NotFoundError):
        oa(server, GLOBEX_KEY).models.retrieve("other")


def test_chat_masks_for_the_model_and_audits_the_callers_tenant(served):
    client, server, bot = served
    reply = oa(server).chat.completions.create(
        model="bot",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "mail ann@example.com"}],
        user="end-user-7",
    )
    assert reply.object == "chat.completion" and reply.model == "bot"
    assert reply.choices[0].message.content == "echo: mail ann@example.com"  # restored for the caller
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0
    assert "ann@example.com" not in bot.requests[-1].messages[-1].content  # the model saw a placeholder
    [call] = audited_calls(client)
    assert (call["tenant"], call["user"], call["outcome"]) == ("acme", "einstein", "ok")
    assert call["tags"] == {"surface": "openai", "api_key": "acme-app", "end_user": "end-user-7"}
    assert call["entities"] == {"EMAIL": 1}


def test_stream_with_include_usage(served):
    client, server, bot = served
    chunks = list(
        oa(server).chat.completions.create(
            model="bot",
            messages=[{"role": "user", "content": "stream to ann@example.com"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream to ann@example.com"  # de-masked as it streamed
    assert "ann@example.com" not in bot.requests[-1].messages[-1].content
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4  # the final usage chunk
    assert all(c.usage is None for c in chunks[:-1])
    assert [c["outcome"] for c in audited_calls(client)] == ["ok"]


def test_stream_without_usage_and_completions(served):
    _, server, _ = served
    chunks = list(
        oa(server).chat.completions.create(model="bot", messages=[{"role": "user", "content": "hi"}], stream=True)
    )
    assert all(c.usage is None for c in chunks) and chunks[-1].choices[0].finish_reason == "stop"
    completion = oa(server).completions.create(model="other", prompt="ignored", n=2)
    assert [c.text for c in completion.choices] == ["from other", "from other"]
    assert completion.object == "text_completion" and completion.usage.completion_tokens == 4
    streamed = oa(server).completions.create(model="bot", prompt="say it", stream=True)
    assert "".join(c.choices[0].text for c in streamed) == "echo: say it"


def test_embeddings_base64_by_default_and_float(served):
    _, server, bot = served
    expected = [list(v) for v in bot.embed(["alpha", "beta"]).vectors]
    default = oa(server).embeddings.create(model="bot", input=["alpha", "beta"])  # the client asks for base64
    assert [x for d in default.data for x in d.embedding] == pytest.approx([x for v in expected for x in v], abs=1e-6)
    raw = httpx.post(
        server.url + "/v1/embeddings",
        json={"model": "bot", "input": "alpha", "encoding_format": "base64"},
        headers={"Authorization": f"Bearer {ACME_KEY}"},
    ).json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == pytest.approx(expected[0], abs=1e-6)
    floats = oa(server).embeddings.create(model="bot", input="beta", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(expected[1], abs=1e-6) and floats.model == "bot"
    with pytest.raises(openai.BadRequestError) as info:
        oa(server).embeddings.create(model="bot", input="x", dimensions=3)
    assert info.value.body["param"] == "dimensions"


def test_keys(served):
    _, server, _ = served
    missing = httpx.get(server.url + "/v1/models")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
    assert missing.headers["www-authenticate"] == "Bearer"
    with pytest.raises(openai.AuthenticationError) as info:
        oa(server, "sk-not-a-valid-key-123").models.list()
    assert info.value.code == "invalid_api_key"
    # Salesforce's header works on the OpenAI routes too (Einstein lets admins pick the header).
    assert httpx.get(server.url + "/v1/models", headers={"api-key": GLOBEX_KEY}).status_code == 200
    basic = httpx.get(server.url + "/v1/models", headers={"Authorization": f"Basic {ACME_KEY}"})
    assert basic.status_code == 401


BAD_INPUT = [
    ({"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404, "model", "model_not_found"),
    ({"messages": [{"role": "user", "content": "x"}]}, 400, "model", "invalid_value"),
    ({"model": "bot", "messages": []}, 400, "messages", "invalid_value"),
    ({"model": "bot", "messages": [{"role": "robot", "content": "x"}]}, 400, "messages.0.role", "invalid_value"),
    (
        {"model": "bot", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        400,
        "messages.0.content.0",
        "invalid_value",
    ),
    ({"model": "bot", "messages": [{"role": "user", "content": "x"}], "temperature": 3}, 400, "temperature", None),
    ({"model": "bot", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, 400, "max_tokens", None),
    (
        {"model": "bot", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}},
        400,
        "response_format",
        "invalid_value",
    ),
    (
        {"model": "bot", "messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"},
        400,
        "tool_choice",
        "invalid_value",
    ),
    ({"model": "bot", "messages": [{"role": "user", "content": "x"}], "logprobs": True}, 400, "logprobs", None),
    ({"model": "bot", "messages": [{"role": "user", "content": "x"}], "n": 2, "stream": True}, 400, "n", None),
    ({"model": "bot", "messages": [{"role": "user", "content": "x"}], "n": 99}, 400, "n", None),
    ({"model": "bot", "messages": [{"role": "user", "content": "x\x00y"}]}, 400, "messages.0.content", None),
]


@pytest.mark.parametrize(("body", "status", "param", "code"), BAD_INPUT)
def test_bad_input_is_an_openai_error_and_never_audited(served, body, status, param, code):
    client, server, _ = served
    response = httpx.post(
        server.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {ACME_KEY}"}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert error["param"] == param and "Traceback" not in response.text
    if code is not None:
        assert error["code"] == code
    assert audited_calls(client) == []


def test_malformed_and_oversized_bodies(make_client, start_server):
    client = make_client({"bot": ScriptedModel()})
    server = start_server(create_app(client, profile="openai", api_keys=KEYS, settings={"max_body_bytes": 2048}))
    headers = {"Authorization": f"Bearer {ACME_KEY}", "Content-Type": "application/json"}
    broken = httpx.post(server.url + "/v1/chat/completions", content=b'{"model": "bot",', headers=headers)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    big = {"model": "bot", "messages": [{"role": "user", "content": "x" * 4096}]}
    oversized = httpx.post(server.url + "/v1/chat/completions", json=big, headers=headers)
    assert oversized.status_code == 413 and oversized.json()["error"]["code"] == "request_too_large"
    assert httpx.post(server.url + "/v1/nowhere", headers=headers).json()["error"]["code"] == "not_found"
    assert audited_calls(client) == []


def test_deep_bodies_and_invalid_text_are_400s_without_pydantic_dumps(make_client, start_server):
    client = make_client({"bot": ScriptedModel()})
    server = start_server(create_app(client, profile="openai", api_keys=KEYS))
    headers = {"Authorization": f"Bearer {ACME_KEY}", "Content-Type": "application/json"}
    url = server.url + "/v1/chat/completions"
    for depth in (100_000, 70):  # past the parser's recursion limit, and past the SDK's own
        deep = httpx.post(url, content=b"[" * depth + b"]" * depth, headers=headers)
        assert deep.status_code == 400 and deep.json()["error"]["code"] == "invalid_json", deep.text
        assert "nested deeper" in deep.json()["error"]["message"]
    for escaped in (r"\ud800", r"a\u0000"):  # JSON escapes: a lone surrogate, a NUL
        body = '{"model": "bot", "messages": [{"role": "user", "content": "' + escaped + '"}]}'
        bad = httpx.post(url, content=body.encode(), headers=headers)
        assert bad.status_code == 400, bad.text
        message = bad.json()["error"]["message"]
        assert "pydantic" not in message and "validation error for" not in message
        assert bad.json()["error"]["param"].startswith("messages")
    assert audited_calls(client) == []


TICKET = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "priority": {"type": "integer"}},
    "required": ["title", "priority"],
}


def test_tools_and_response_format_reach_the_contract(make_client, start_server):
    tooled = ScriptedModel(
        ['{"tool_calls": [{"name": "lookup", "arguments": {"q": "4711"}}]}'],
        capabilities=Capabilities(generate=True, chat=True, stream=True),  # the SDK emulates tools
    )
    ticket = ScriptedModel(['{"title": "Printer", "priority": 2}', "no JSON here", "nor after a repair round"])
    client = make_client({"tooled": tooled, "ticket": ticket}, retry=NO_RETRY)
    server = start_server(create_app(client, profile="openai", api_keys=KEYS))
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    called = oa(server).chat.completions.create(
        model="tooled", messages=[{"role": "user", "content": "find 4711"}], tools=[tool], tool_choice="auto"
    )
    assert called.choices[0].finish_reason == "tool_calls"
    [call] = called.choices[0].message.tool_calls
    assert (call.function.name, call.function.arguments) == ("lookup", '{"q": "4711"}')
    shaped = oa(server).chat.completions.create(
        model="ticket",
        messages=[{"role": "user", "content": "ticket 4711"}],
        response_format={"type": "json_schema", "json_schema": {"name": "ticket", "schema": TICKET}},
    )
    assert json.loads(shaped.choices[0].message.content) == {"title": "Printer", "priority": 2}
    with pytest.raises(openai.InternalServerError) as broken:  # 502: the model's answer broke the schema
        oa(server).chat.completions.create(
            model="ticket", messages=[{"role": "user", "content": "again"}], response_format={"type": "json_object"}
        )
    assert broken.value.status_code == 502 and broken.value.body["code"] == "schema_error"


def test_failures_map_to_statuses(make_client, start_server):
    throttled = ScriptedModel(failures=[Throttled("slow down", provider="scripted", retry_after=2.0)])
    slow = ScriptedModel(failures=[Timeout("no answer", provider="scripted")])
    far = ScriptedModel(boundary=Boundary(provider="x", location_kind="third-party", region="us-east-1", tls=True))
    client = make_client({"throttled": throttled, "slow": slow, "far": far}, retry=NO_RETRY)
    server = start_server(create_app(client, profile="openai", api_keys=KEYS))
    ask = {"messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(openai.RateLimitError) as rate:
        oa(server).chat.completions.create(model="throttled", **ask)
    assert rate.value.response.headers["retry-after"] == "2"
    raw = httpx.post(server.url + "/v1/chat/completions", json={"model": "slow", **ask}, headers={"api-key": ACME_KEY})
    assert raw.status_code == 504 and raw.headers["x-should-retry"] == "false"  # never re-run a generation
    with pytest.raises(openai.PermissionDeniedError) as refused:
        oa(server).chat.completions.create(model="far", **ask)  # the default policy keeps data in-process
    assert refused.value.body["type"] == "policy_violation"
    outcomes = sorted(c["outcome"] for c in audited_calls(client))
    assert outcomes == ["blocked", "error", "error"]


def test_a_stream_failing_midway_raises_api_error_in_the_client(make_client, start_server):
    client = make_client({"paced": PacedModel(fail_after=2)})
    server = start_server(create_app(client, profile="openai", api_keys=KEYS))
    got = []
    with pytest.raises(openai.APIError, match=r"the model failed \(model 'paced', code model_error"):
        for chunk in oa(server).chat.completions.create(
            model="paced", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "one two"
    [call] = audited_calls(client)
    assert call["outcome"] == "error" and call["error_type"] == "ModelError"


def test_request_id_round_trips(served):
    _, server, _ = served
    response = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "bot", "messages": [{"role": "user", "content": "x"}]},
        headers={"Authorization": f"Bearer {ACME_KEY}", "X-Request-Id": "req-42"},
    )
    assert response.headers["x-request-id"] == "req-42" and response.json()["id"] == "chatcmpl-req-42"
    assert json.loads(response.content)["choices"][0]["logprobs"] is None


def test_upstream_failures_do_not_show_the_serving_side_topology(caplog):
    from byom_sdk import AuditError, BadRequest, ProviderError, SchemaError, Throttled, Unavailable
    from byom_sdk.serve._calls import classify

    # A 5xx says what failed, for which model and request; the log keeps the provider's text.
    error = classify(ProviderError("OpenAI-compatible server http://10.0.0.5:8000/v1: answered 500"), model="bot")
    assert error.status == 502 and "10.0.0.5" not in error.message + str(error) + repr(error)
    assert error.message.startswith("the model's provider failed (model 'bot', code provider_error")
    assert "http://10.0.0.5:8000/v1" in caplog.text
    error = classify(Unavailable("SageMaker endpoint 'ep': cannot connect to 10.1.2.3:443"), request_id="r-1")
    assert "10.1.2.3" not in error.message and "'ep'" not in error.message and "request id r-1" in error.message
    error = classify(AuditError("audit log /srv/secret/byom-audit.sqlite cannot be written", path="/srv/secret"))
    assert error.status == 503 and "/srv/secret" not in error.message
    # A 4xx keeps its message, redacted; so does a schema error (the SDK's account of the answer).
    schema = classify(SchemaError("the answer is not JSON: no value at 10.0.0.5:80"), model="bot")
    assert schema.status == 502 and schema.message == "the answer is not JSON: no value at <upstream>"
    assert classify(BadRequest("invalid request: temperature")).message.endswith("temperature")
    slow = classify(Throttled("rate exceeded for arn:aws:sagemaker:eu-west-1:123456789012:endpoint/x", provider="sm"))
    assert slow.status == 429 and slow.message == "rate exceeded for <arn>"
