"""Salesforce's LLM Open Connector: every request the tests send and every answer
``byom serve`` gives is validated with openapi-core against the published specification
(tests/serve/llm-open-connector.yml), plus what the spec cannot express: ``created`` in
seconds, ``usage`` with exactly its three fields, no fields the spec does not declare."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest
from serve_helpers import ACME_KEY, KEYS, audited_calls

from byom_sdk.serve import create_app
from byom_sdk.testing import ScriptedModel

openapi_core = pytest.importorskip("openapi_core")
yaml = pytest.importorskip("yaml")
from openapi_core.testing import MockRequest, MockResponse  # noqa: E402
from openapi_schema_validator import OAS30Validator  # noqa: E402
from openapi_spec_validator import validate as validate_spec  # noqa: E402

SPEC_PATH = Path(__file__).with_name("llm-open-connector.yml")
#: git blob id of api-specs/llm-open-connector/llm-open-connector.yml in salesforce/einstein-platform
UPSTREAM_BLOB = "1c34769233d6cc54175e7021d1f2f5897a3ccdcd"
HOST = "https://bring-your-own-llm.example.com"  # the spec's server: the validator matches paths under it
ENUM_FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def api(spec):
    return openapi_core.OpenAPI.from_dict(spec)


@pytest.fixture
def served(make_client, start_server):
    client = make_client({"einstein-bot": ScriptedModel(["Your order ships Monday. Anything else?"])})
    server = start_server(create_app(client, profile="open-connector", api_keys=KEYS))
    return client, server


def test_the_spec_copy_is_the_published_one(spec):
    text = SPEC_PATH.read_bytes()
    body = b"".join(line for line in text.splitlines(keepends=True) if not line.startswith(b"# "))
    blob = hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()
    assert blob == UPSTREAM_BLOB  # unmodified below its header comment
    validate_spec(spec)
    assert list(spec["paths"]) == ["/chat/completions"]


REQUESTS = [
    {"model": "einstein-bot", "messages": [{"role": "user", "content": "When does my order ship?"}]},
    {
        "model": "einstein-bot",
        "messages": [
            {"role": "system", "content": "You are a support agent."},
            {"role": "user", "content": "Hi", "name": "case-4711"},
            {"role": "assistant", "content": "Hello, how can I help?"},
            {"role": "user", "content": "When does my order ship?"},
        ],
        "max_tokens": 3,
        "temperature": 0.2,
        "parameters": {"top_p": 0.5, "seed": 7},
    },
    {"model": "einstein-bot", "messages": [{"role": "user", "content": "Two answers"}], "n": 2, "temperature": None},
]


@pytest.mark.parametrize("body", REQUESTS, ids=["minimal", "history-and-parameters", "n=2"])
def test_answers_validate_against_the_spec(api, spec, served, body):
    client, server = served
    headers = {"api-key": ACME_KEY, "Content-Type": "application/json"}
    data = json.dumps(body).encode()
    request = MockRequest(HOST, "post", "/chat/completions", headers=headers, data=data)
    api.validate_request(request)  # what the test sends is what Einstein may send
    response = httpx.post(server.url + "/chat/completions", content=data, headers=headers)
    assert response.status_code == 200, response.text
    api.validate_response(request, MockResponse(response.content, status_code=200))
    answer = response.json()
    declared = spec["components"]["schemas"]["CreateChatCompletionResponse"]["properties"]
    assert set(answer) <= set(declared)  # nothing the spec does not declare
    assert abs(answer["created"] - time.time()) < 120  # seconds, not milliseconds
    assert set(answer["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert answer["object"] == "chat.completion" and answer["model"] == "einstein-bot"
    assert len(answer["choices"]) == body.get("n", 1)
    for choice in answer["choices"]:
        assert set(choice) == {"index", "finish_reason", "message"} and choice["finish_reason"] in ENUM_FINISH
        assert set(choice["message"]) == {"role", "content"}
    if "max_tokens" in body:
        assert answer["choices"][0]["message"]["content"] == "Your order ships"
        assert answer["choices"][0]["finish_reason"] == "length"
    calls = audited_calls(client)
    assert len(calls) == body.get("n", 1)
    assert all(c["tenant"] == "acme" and c["tags"]["surface"] == "open-connector" for c in calls)


def test_bearer_is_accepted_too(api, served):
    _, server = served
    response = httpx.post(
        server.url + "/chat/completions",
        json=REQUESTS[0],
        headers={"Authorization": f"Bearer {ACME_KEY}"},
    )
    assert response.status_code == 200
    api.validate_response(
        MockRequest(HOST, "post", "/chat/completions", headers={"api-key": "x"}, data=json.dumps(REQUESTS[0]).encode()),
        MockResponse(response.content),
    )


BAD = [
    ({}, REQUESTS[0], 401, None),
    ({"api-key": "sk-wrong-key-00000000"}, REQUESTS[0], 401, None),
    (None, {"messages": [{"role": "user", "content": "x"}]}, 400, "model"),
    (None, {"model": "einstein-bot", "messages": [{"role": "tool", "content": "x"}]}, 400, "messages.0.role"),
    (None, {"model": "einstein-bot", "messages": [{"role": "user", "content": ["x"]}]}, 400, "messages.0.content"),
    (None, {"model": "einstein-bot", "messages": [{"role": "user", "content": "x"}], "n": 0}, 400, "n"),
    (None, {"model": "einstein-bot", "messages": [{"role": "user", "content": "x"}], "n": 100}, 400, "n"),
    (None, {"model": "einstein-bot", "messages": [{"role": "user", "content": "x"}], "temperature": 2.5}, 400, None),
    (None, {"model": "einstein-bot", "messages": [{"role": "user", "content": "x"}], "stream": True}, 400, "stream"),
    (None, {"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}, 404, "model"),
]


@pytest.mark.parametrize(("headers", "body", "status", "param"), BAD)
def test_bad_requests_answer_the_specs_error_response(api, spec, served, headers, body, status, param):
    client, server = served
    sent = {"api-key": ACME_KEY} if headers is None else headers
    response = httpx.post(server.url + "/chat/completions", json=body, headers=sent)
    assert response.status_code == status
    # The spec declares ErrorResponse (no error response per operation): the body follows it.
    schema = {**spec["components"]["schemas"]["ErrorResponse"], "components": spec["components"]}
    schema["properties"] = {"error": spec["components"]["schemas"]["Error"]}
    OAS30Validator(schema).validate(response.json())
    if param is not None:
        assert response.json()["error"]["param"] == param
    assert audited_calls(client) == []
