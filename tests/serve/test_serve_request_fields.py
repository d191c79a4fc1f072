"""Every field of every route read the same way, each pinned as a class over the routes
that read it: a message's ``name`` (OpenAI's pattern), strings that cannot be encoded as
UTF-8 (a 400 naming the field, nothing audited, rendering never fails), ``max_tokens``
within the model's limit wherever a token limit arrives, and nested fields named by their
full dotted path."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import openai
import pytest
from serve_helpers import ACME_KEY, KEYS, POLICY, audited_calls

import byom_sdk
from byom_sdk import BadRequest, Capabilities
from byom_sdk.serve import ServerThread, create_app
from byom_sdk.serve._calls import dumps
from byom_sdk.testing import ScriptedModel

AUTH = {"Authorization": f"Bearer {ACME_KEY}"}
CONNECTOR = {"api-key": ACME_KEY}
VERTEX_ENV = {"AIP_PREDICT_ROUTE": "/predict"}
USER = {"role": "user", "content": "hi"}
#: the model declares an output limit: the routes must hold every token limit to it.
LIMIT = 50


@pytest.fixture(scope="module")
def served():
    """One server with every profile, around a model that declares ``max_output_tokens``."""
    caps = Capabilities(generate=True, chat=True, stream=True, embed=True, max_output_tokens=LIMIT)
    bot = ScriptedModel(capabilities=caps)
    client = byom_sdk.Client(models={"bot": bot}, policy=POLICY)
    app = create_app(client, profile="all", api_keys=KEYS, environ=VERTEX_ENV)
    server = ServerThread(app).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            yield client, bot, server, http
    finally:
        server.stop()
        client.close()


def _post(http: httpx.Client, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    # json.dumps escapes a lone surrogate as \ud800: valid JSON, as a client would send it.
    content = json.dumps(body).encode()
    return http.post(path, content=content, headers={"Content-Type": "application/json", **(headers or {})})


def _names(response: httpx.Response, path: str) -> bool:
    """Whether a 400 names the field ``path``, in the shape of the route's protocol."""
    error = response.json()["error"]
    if isinstance(error, str):  # SageMaker: {"error", "error_type"}
        return f"'{path}'" in error
    if "status" in error:  # Vertex: Google's {"code", "message", "status"}
        return f"'{path}'" in error["message"]
    return bool(error["param"] == path and f"'{path}'" in error["message"])  # OpenAI / Open Connector


def _refused(served: Any, path: str, body: Any, headers: dict[str, str], field: str) -> httpx.Response:
    """``body`` is a 400 naming ``field``, before the model and the audit."""
    client, bot, _, http = served
    calls, records = len(bot.requests), len(audited_calls(client))
    response = _post(http, path, body, headers)
    assert response.status_code == 400, response.text
    assert _names(response, field), response.text
    assert len(bot.requests) == calls and len(audited_calls(client)) == records
    return response


# -- 1. messages[].name: OpenAI's ^[a-zA-Z0-9_-]{1,64}$ on every route that reads messages ----------


def _with_name(name: Any) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "be brief"}, {**USER, "name": name}]


MESSAGE_ROUTES = [
    ("/v1/chat/completions", AUTH, lambda m: {"model": "bot", "messages": m}, "messages.1.name"),
    ("/chat/completions", CONNECTOR, lambda m: {"model": "bot", "messages": m}, "messages.1.name"),
    ("/invocations", {}, lambda m: {"messages": m}, "messages.1.name"),
    ("/invocations", {}, lambda m: {"inputs": [m], "parameters": {}}, "inputs.0.1.name"),  # llama-chat
    ("/predict", {}, lambda m: {"instances": [{"messages": m}]}, "instances.0.messages.1.name"),
    (
        "/predict",
        {},
        lambda m: {"instances": [{"@requestFormat": "chatCompletions", "messages": m}]},
        "instances.0.messages.1.name",
    ),
]
BAD_NAMES = ["ann@example.com", "", "a" * 65, "two words", "ann\n", "j\u00f6rg", 7]


@pytest.mark.parametrize(("path", "headers", "body", "field"), MESSAGE_ROUTES)
@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_message_name_outside_openais_pattern_is_a_400_on_every_route(served, path, headers, body, field, name):
    _refused(served, path, body(_with_name(name)), headers, field)


def test_a_message_name_inside_the_pattern_reaches_the_model(served):
    _, bot, server, _ = served
    api = openai.OpenAI(base_url=server.url + "/v1", api_key=ACME_KEY, max_retries=0)
    for name in ("ann_1-x", "a" * 64):
        reply = api.chat.completions.create(model="bot", messages=_with_name(name))  # type: ignore[arg-type]
        assert reply.choices[0].message.content == "echo: hi"
        assert bot.requests[-1].messages[-1].name == name
    with pytest.raises(openai.BadRequestError) as refused:
        api.chat.completions.create(model="bot", messages=_with_name("ann@example.com"))  # type: ignore[arg-type]
    assert refused.value.body["param"] == "messages.1.name"  # type: ignore[index]


# -- 4. strings that cannot be encoded as UTF-8: a 400 naming the field, nothing audited ---------

LONE = "\ud800"
CHAT = {"model": "bot", "messages": [USER]}
SURROGATES = [
    ("/v1/chat/completions", AUTH, {**CHAT, "model": LONE}, "model"),
    ("/v1/chat/completions", AUTH, {**CHAT, "user": "u" + LONE}, "user"),
    ("/v1/chat/completions", AUTH, {**CHAT, "messages": [{**USER, "content": LONE}]}, "messages.0.content"),
    ("/v1/chat/completions", AUTH, {**CHAT, "messages": [{**USER, "name": LONE}]}, "messages.0.name"),
    ("/v1/chat/completions", AUTH, {**CHAT, "x" + LONE: 1}, "x\\ud800"),  # an unknown key
    ("/v1/chat/completions", AUTH, {**CHAT, "stop": ["ok", LONE]}, "stop.1"),
    ("/v1/chat/completions", AUTH, {**CHAT, "stream_options": {LONE: True}}, "stream_options.\\ud800"),
    (
        "/v1/chat/completions",
        AUTH,
        {**CHAT, "tools": [{"type": "function", "function": {"name": LONE, "parameters": {}}}]},
        "tools.0.function.name",
    ),
    ("/v1/completions", AUTH, {"model": "bot", "prompt": LONE}, "prompt"),
    ("/v1/embeddings", AUTH, {"model": "bot", "input": ["a", LONE]}, "input.1"),
    ("/chat/completions", CONNECTOR, {**CHAT, "parameters": {"stop": [LONE]}}, "parameters.stop.0"),
    ("/chat/completions", CONNECTOR, {**CHAT, "model": LONE}, "model"),
    ("/invocations", {}, {"inputs": LONE, "parameters": {}}, "inputs"),
    ("/invocations", {}, {"messages": [USER], "user": LONE}, "user"),
    ("/predict", {}, {"instances": [{"prompt": "x"}, {"prompt": LONE}]}, "instances.1.prompt"),
    ("/predict", {}, {"instances": [{"prompt": "x"}], "parameters": {"stop": LONE}}, "parameters.stop"),
    # A NUL is refused the same way (it failed later, as a 500, in metadata such as `user`).
    ("/v1/chat/completions", AUTH, {**CHAT, "user": "u\x00"}, "user"),
    ("/v1/chat/completions", AUTH, {**CHAT, "safety_identifier": "\x00"}, "safety_identifier"),
    ("/predict", {}, {"instances": [{"prompt": "x", "user": "\x00"}]}, "instances.0.user"),
]


@pytest.mark.parametrize(("path", "headers", "body", "field"), SURROGATES)
def test_a_lone_surrogate_anywhere_in_a_body_is_a_400_naming_its_field(served, caplog, path, headers, body, field):
    caplog.set_level(logging.ERROR)
    _refused(served, path, body, headers, field)
    assert "Traceback" not in caplog.text and "unexpected error" not in caplog.text


def test_the_connection_serves_the_next_request_after_a_surrogate(served):
    _, _, server, _ = served
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as http:
        assert _post(http, "/v1/chat/completions", {**CHAT, "model": LONE}).status_code == 400
        assert _post(http, "/v1/chat/completions", CHAT).status_code == 200


def test_rendering_a_message_that_holds_a_surrogate_never_fails(make_client, start_server):
    # A provider's 4xx keeps its message; one that echoes a lone surrogate still renders.
    failing = ScriptedModel(failures=[BadRequest(f"bad input {LONE} here", provider="scripted")])
    server = start_server(create_app(make_client({"bot": failing}), profile="openai", api_keys=KEYS))
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers=AUTH)
    assert response.status_code == 400 and "bad input" in response.json()["error"]["message"]
    # Whatever text reaches the renderer, the answer is UTF-8 JSON (U+FFFD for the surrogate).
    assert dumps({"a": LONE, "b": "ok"}) == '{"a":"\ufffd","b":"ok"}'.encode()


# -- 7. max_tokens within the model's limit on every route that carries a token limit ------------

MAX_TOKENS = [
    ("/v1/chat/completions", AUTH, {**CHAT, "max_completion_tokens": LIMIT + 1}, "max_completion_tokens"),
    ("/v1/completions", AUTH, {"model": "bot", "prompt": "x", "max_tokens": LIMIT + 1}, "max_tokens"),
    ("/chat/completions", CONNECTOR, {**CHAT, "max_tokens": LIMIT + 1}, "max_tokens"),
    ("/invocations", {}, {"inputs": "x", "parameters": {"max_new_tokens": LIMIT + 1}}, "parameters.max_new_tokens"),
    ("/invocations", {}, {"inputs": [[USER]], "parameters": {"max_new_tokens": 2**40}}, "parameters.max_new_tokens"),
    ("/invocations", {}, {"text_inputs": "x", "max_length": LIMIT + 1}, "max_length"),
    ("/invocations", {}, {"messages": [USER], "max_tokens": LIMIT + 1}, "max_tokens"),
    ("/predict", {}, {"instances": [{"prompt": "x", "max_tokens": LIMIT + 1}]}, "instances.0.max_tokens"),
    ("/predict", {}, {"instances": [{"prompt": "x"}], "parameters": {"max_tokens": 2**40}}, "parameters.max_tokens"),
    (
        "/predict",
        {},
        {"instances": [{"@requestFormat": "chatCompletions", "messages": [USER], "max_completion_tokens": 2**40}]},
        "instances.0.max_completion_tokens",
    ),
    (
        "/predict",
        {},
        {"instances": [{"inputs": "x", "parameters": {"max_new_tokens": LIMIT + 1}}]},
        "instances.0.parameters.max_new_tokens",
    ),
]


@pytest.mark.parametrize(("path", "headers", "body", "field"), MAX_TOKENS)
def test_max_tokens_over_the_models_limit_is_a_400_on_every_route(served, path, headers, body, field):
    response = _refused(served, path, body, headers, field)
    assert f"at most {LIMIT}" in response.text


def test_max_tokens_at_the_limit_reaches_the_model_on_every_route(served):
    _, bot, _, http = served
    bodies = [
        ("/chat/completions", CONNECTOR, {**CHAT, "max_tokens": LIMIT}),
        ("/invocations", {}, {"inputs": "x", "parameters": {"max_new_tokens": LIMIT}}),
        ("/invocations", {}, {"text_inputs": "x", "max_length": LIMIT}),
        ("/predict", {}, {"instances": [{"prompt": "x", "max_tokens": LIMIT}]}),
    ]
    for path, headers, body in bodies:
        assert _post(http, path, body, headers).status_code == 200
        assert bot.requests[-1].max_tokens == LIMIT


def test_without_a_declared_limit_the_ceiling_is_int32(make_client, start_server):
    model = ScriptedModel()
    server = start_server(create_app(make_client({"bot": model}), profile="sagemaker"))
    body = {"inputs": "x", "parameters": {"max_new_tokens": 2**31}}
    response = httpx.post(server.url + "/invocations", json=body)
    assert response.status_code == 400 and "'parameters.max_new_tokens' must be at most 2147483647" in response.text
    assert model.requests == []


# -- 9. nested fields are named by their full dotted path ------------------------------------------

NESTED = [
    ("/v1/chat/completions", AUTH, {**CHAT, "stream": True, "stream_options": {"include_usage": "yes"}}),
    ("/v1/chat/completions", AUTH, {**CHAT, "stream_options": []}),
    ("/chat/completions", CONNECTOR, {**CHAT, "parameters": {"top_p": 7}}),
    ("/chat/completions", CONNECTOR, {**CHAT, "parameters": {"stop": 5}}),
    ("/invocations", {}, {"inputs": "x", "parameters": {"top_p": 7}}),
    ("/invocations", {}, {"inputs": "x", "parameters": {"return_full_text": "yes"}}),
    ("/invocations", {}, {"messages": [USER], "stream": True, "stream_options": {"include_usage": 1}}),
    ("/predict", {}, {"instances": [{"prompt": "a"}, {"prompt": "b", "max_tokens": "many"}]}),
    ("/predict", {}, {"instances": [{"prompt": "a"}], "parameters": {"temperature": 9}}),
    ("/predict", {}, {"instances": [{"prompt": "a", "raw_response": "yes"}]}),
    ("/predict", {}, {"instances": [{"messages": [USER], "tools": "lookup"}]}),
    ("/predict", {}, {"instances": [{"inputs": "a", "parameters": {"top_p": 7}}]}),
    ("/predict", {}, {"instances": [{"inputs": "a", "parameters": {}}], "parameters": {"seed": "s"}}),
    ("/predict", {}, {"instances": [{"inputs": ["a"], "normalize": "yes"}]}),
]
NESTED_FIELDS = [
    "stream_options.include_usage",
    "stream_options",
    "parameters.top_p",
    "parameters.stop",
    "parameters.top_p",
    "parameters.return_full_text",
    "stream_options.include_usage",
    "instances.1.max_tokens",
    "parameters.temperature",
    "instances.0.raw_response",
    "instances.0.tools",
    "instances.0.parameters.top_p",
    "parameters.seed",
    "instances.0.normalize",
]


@pytest.mark.parametrize(("case", "field"), list(zip(NESTED, NESTED_FIELDS, strict=True)))
def test_a_nested_field_is_named_by_its_dotted_path(served, case, field):
    path, headers, body = case
    _refused(served, path, body, headers, field)
