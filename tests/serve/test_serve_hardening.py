"""Breaks an independent probe of ``byom serve`` found, each pinned as a class: malformed
tool-call histories, provider topology in error messages, unbounded request heads, clients
that stop reading a stream, keys no client can present, unbounded container fan-out, 405s
without ``Allow``, and OpenAI parameters that were silently ignored."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from serve_helpers import ACME_KEY, KEYS, PacedModel, audited_calls

import byom_sdk
from byom_sdk import AuthError, Capabilities, ModelError, Unavailable
from byom_sdk.serve import ServerThread, create_app
from byom_sdk.serve._calls import LAST_SEND_GRACE, redact
from byom_sdk.testing import ScriptedModel

AUTH = {"Authorization": f"Bearer {ACME_KEY}"}
VERTEX_ENV = {"AIP_PREDICT_ROUTE": "/predict"}
USER = {"role": "user", "content": "x"}


def _raw(server: ServerThread, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection; everything read until the server closes it."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # refused mid-send: what was answered is still readable, or nothing
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except OSError:
            pass  # reset: the server closed with our bytes unread
        return out


def _request(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in headers.items())]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode() + body


# -- 1. malformed tool-call histories: 400 naming the field, never a 500 -------------------------

CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
BROKEN_HISTORY = [
    ({"role": "assistant", "tool_calls": "zz"}, "1.tool_calls"),
    ({"role": "assistant", "tool_calls": [1]}, "1.tool_calls.0"),
    ({"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": {"a": 1}}}]}, None),
    ({"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": "{nope"}}]}, None),
    ({"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": "[1]"}}]}, None),
    ({"role": "assistant", "tool_calls": [{**CALL, "function": "f"}]}, "1.tool_calls.0.function"),
    ({"role": "assistant", "tool_calls": [{**CALL, "id": 7}]}, "1.tool_calls.0.id"),
    ({"role": "user", "content": "x", "tool_calls": [CALL]}, "1.tool_calls"),
    ({"role": "tool", "content": "42"}, "1.tool_call_id"),  # a tool result must say which call it answers
]


@pytest.mark.parametrize(("message", "field"), BROKEN_HISTORY)
def test_malformed_tool_call_histories_are_400s_naming_the_field(make_client, start_server, caplog, message, field):
    field = field or "1.tool_calls.0.function.arguments"
    client = make_client({"bot": ScriptedModel()})
    app = create_app(client, profile=["openai", "sagemaker", "vertex"], api_keys=KEYS, environ=VERTEX_ENV)
    server = start_server(app)
    history = [USER, message]
    openai = httpx.post(server.url + "/v1/chat/completions", json={"model": "bot", "messages": history}, headers=AUTH)
    assert openai.status_code == 400, openai.text
    assert openai.json()["error"]["param"] == f"messages.{field}" and openai.json()["error"]["type"] == (
        "invalid_request_error"
    )
    sagemaker = httpx.post(server.url + "/invocations", json={"messages": history})
    assert sagemaker.status_code == 400 and sagemaker.json()["error_type"] == "validation"
    assert f"messages.{field}" in sagemaker.json()["error"]
    vertex = httpx.post(server.url + "/predict", json={"instances": [{"messages": history}]})
    assert vertex.status_code == 400 and vertex.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert f"instances.0.messages.{field}" in vertex.json()["error"]["message"]
    assert "unexpected error" not in caplog.text and audited_calls(client) == []


def test_a_well_formed_tool_call_history_still_reaches_the_model(make_client, start_server):
    bot = ScriptedModel(tools=True)
    client = make_client({"bot": bot})
    server = start_server(create_app(client, profile="openai", api_keys=KEYS))
    history = [USER, {"role": "assistant", "content": None, "tool_calls": [CALL]}]
    history.append({"role": "tool", "tool_call_id": "c1", "content": "42"})
    answer = httpx.post(server.url + "/v1/chat/completions", json={"model": "bot", "messages": history}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert bot.requests[-1].messages[1].tool_calls[0].id == "c1"


# -- 2. provider failures: no account, role, endpoint or address reaches the caller ---------------

DENIED = (
    "SageMaker endpoint 'prod-bot' (eu-west-1): AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/"
    "byom-prod-invoker/i-0abc is not authorized to perform: sagemaker:InvokeEndpoint on resource: "
    "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/prod-bot"
)
SECRETS = ("123456789012", "arn:aws", "prod-bot", "eu-west-1", "10.20.30.40", "byom-prod-invoker", "db.internal")


def test_5xx_answers_name_the_model_code_and_request_but_no_topology(make_client, start_server, caplog):
    failures = [
        AuthError(DENIED, provider="sagemaker"),
        ModelError("endpoint 'prod-bot': connect to db.internal:5432 / 10.20.30.40 failed", provider="sagemaker"),
        Unavailable("endpoint 'prod-bot' in eu-west-1 is being updated", provider="sagemaker"),
    ]
    client = make_client({"bot": ScriptedModel(failures=failures)}, retry={"max_attempts": 1})
    server = start_server(create_app(client, profile=["openai", "sagemaker"], api_keys=KEYS))
    ask = {"model": "bot", "messages": [USER]}
    codes = []
    for request_id in ("req-1", "req-2"):
        answer = httpx.post(server.url + "/v1/chat/completions", json=ask, headers={**AUTH, "X-Request-Id": request_id})
        error = answer.json()["error"]
        codes.append((answer.status_code, error["code"]))
        assert f"request id {request_id}" in error["message"] and "model 'bot'" in error["message"]
        assert not [s for s in SECRETS if s in answer.text], answer.text
    container = httpx.post(server.url + "/invocations", json={"inputs": "x", "parameters": {}})
    assert container.status_code == 503 and "model 'bot'" in container.json()["error"]
    assert not [s for s in SECRETS if s in container.text]
    assert codes == [(502, "upstream_auth_error"), (502, "model_error")]
    assert "arn:aws:sts::123456789012" in caplog.text and "db.internal:5432" in caplog.text  # the log keeps it


def test_the_probe_through_the_sagemaker_plugin(make_client, start_server):
    testing = pytest.importorskip("byom_sagemaker.testing")
    with testing.LocalSageMakerServer(region="eu-west-1") as runtime:
        runtime.add_endpoint("prod-bot", "tgi")
        good = runtime.model_config("prod-bot")
        client = make_client({"bot": good, "gone": {**good, "endpoint_name": "prod-bot-v2"}}, retry={"max_attempts": 1})
        server = start_server(create_app(client, profile="openai", api_keys=KEYS))

        def ask(model):
            return httpx.post(server.url + "/v1/completions", json={"model": model, "prompt": "hi"}, headers=AUTH)

        missing = ask("gone")  # a 4xx keeps its (redacted) message
        assert missing.status_code == 400 and "account <account>" in missing.json()["error"]["message"]
        runtime.inject("access_denied", message=DENIED.split(": ", 2)[2])
        denied = ask("bot")
        runtime.inject(
            "model_error", original_status=500, message="connect to db 10.20.30.40:5432 in account 123456789012"
        )
        failed = ask("bot")
    for answer in (missing, denied, failed):
        assert "123456789012" not in answer.text and "arn:" not in answer.text and "10.20.30.40" not in answer.text
    assert denied.status_code == failed.status_code == 502
    assert "prod-bot" not in denied.text + failed.text and "eu-west-1" not in denied.text + failed.text


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            DENIED.split(": ", 2)[2],
            "User: <arn> is not authorized to perform: sagemaker:InvokeEndpoint on resource: <arn>",
        ),
        ("Endpoint x of account 123456789012 not found.", "Endpoint x of account <account> not found."),
        ("AWS Account ID: 123456789012", "AWS Account ID: <account>"),
        ("see https://console.aws.amazon.com/x?y=1 or 10.0.0.5:8000", "see <upstream> or <upstream>"),
        ("no route to [2001:db8::1]:443, fe80::1%eth0, ::1", "no route to <upstream>, <upstream>, <upstream>"),
        (
            "cannot reach db-1.internal:5432, gpu7:8000, localhost:8080",
            "cannot reach <upstream>, <upstream>, <upstream>",
        ),
        ("Authorization: Bearer abc.def-123456", "Authorization: <redacted> <redacted>"),
        ("api_key=sk-live-abcdefghijklmnop1234 password='hunter22'", "api_key=<redacted> password='<redacted>'"),
        ("key AKIAABCDEFGHIJKLMNOP rejected", "key <redacted> rejected"),
        ("token aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3k bad", "token <redacted> bad"),
        # What must survive: field names, ranges, times, ids, prose.
        ("'temperature' must be in [0, 2], got 3", "'temperature' must be in [0, 2], got 3"),
        ("at 10:20:30 max_new_tokens:4096 temperature:2", "at 10:20:30 max_new_tokens:4096 temperature:2"),
        ("Basic validation failed; token generation failed", "Basic validation failed; token generation failed"),
        ("request 4f1c2d3e-aaaa-bbbb-cccc-123456789012", "request 4f1c2d3e-aaaa-bbbb-cccc-123456789012"),
    ],
)
def test_redaction(message, expected):
    assert redact(message) == expected


# -- 3. the request head is limited (httptools stays the parser) ---------------------------------


def test_oversized_request_heads_are_431_or_414_and_closed(make_client, start_server):
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    client = make_client({"bot": ScriptedModel()})
    server = start_server(create_app(client, profile="openai", api_keys=KEYS, settings={"max_header_bytes": 4096}))
    assert issubclass(server.server.config.http_protocol_class, HttpToolsProtocol)
    body = json.dumps({"model": "bot", "messages": [USER]}).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    fits = _raw(server, _request("POST", "/v1/chat/completions", {**headers, "X-Pad": "a" * 3000}, body))
    assert fits.startswith(b"HTTP/1.1 200 ")
    many = {**headers, **{f"X-Pad-{i}": "a" * 100 for i in range(50)}}  # each fits, together they do not
    for sent in ({**headers, "X-Big": "a" * 8000}, many):
        refused = _raw(server, _request("POST", "/v1/chat/completions", sent, body))
        assert refused.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        assert b"connection: close" in refused and refused.endswith(b"exceed the limit of 4096 bytes")
    long_target = _raw(server, _request("GET", "/v1/models?" + "q" * 5000, AUTH))
    assert long_target.startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    # One endless header field, never finished: dropped once 4 KiB (plus one read) are in,
    # not buffered until the client stops (a 64 MiB field used to be read whole).
    sent = 0
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with pytest.raises(OSError) as dropped:  # sending until the server drops us
            while sent < 64 << 20:
                sock.sendall(b"a" * 65536)
                sent += 65536
    assert not isinstance(dropped.value, TimeoutError) and sent < 16 << 20
    assert httpx.get(server.url + "/v1/models", headers=AUTH).status_code == 200
    assert [c["outcome"] for c in audited_calls(client)] == ["ok"]  # only the request that fit


# -- 4. a client that stops reading a stream is dropped after the deadline ----------------------


def test_a_stream_whose_client_stopped_reading_is_released_after_the_deadline(make_client, caplog):
    words = " ".join(f"word{i:06d}" for i in range(200_000))
    model = PacedModel(words, pause=0.0)
    client = make_client({"big": model})
    app = create_app(client, profile="openai", api_keys=KEYS, settings={"request_timeout": 1.0})
    with ServerThread(app, drain_timeout=1) as server:
        state = server.server.server_state
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((server.host, server.port))
        body = json.dumps({"model": "big", "messages": [USER], "stream": True}).encode()
        sock.sendall(_request("POST", "/v1/chat/completions", {**AUTH, "Content-Type": "application/json"}, body))
        started = time.monotonic()
        while not state.tasks and time.monotonic() - started < 1.0:
            time.sleep(0.01)
        assert state.tasks and state.connections  # the stream is under way, its client not reading
        while time.monotonic() - started < 1.0 + LAST_SEND_GRACE + 3 and (state.tasks or state.connections):
            time.sleep(0.05)
        released = time.monotonic() - started
        sock.close()
    assert not state.tasks and not state.connections, (state.tasks, state.connections)
    assert 1.0 <= released < 1.0 + LAST_SEND_GRACE + 2
    assert [c["outcome"] for c in audited_calls(client)] == ["cancelled"] and model.finished == 0
    assert "stopped reading" in caplog.text and "without completing response" not in caplog.text


# -- 5. keys no client can present are refused when loaded -------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        "sk-acme-prod-key-0001\n",
        " sk-acme-prod-key-0001",
        "sk-acme-prod key-0001",
        "sk-ключ-acme-0001",
        "sk-\x7fabc-0001x",
    ],
)
def test_keys_no_client_can_present_are_refused_when_loaded(make_client, secret):
    client = make_client({"bot": ScriptedModel()})
    entry = {"name": "crm", "key_env": "CRM_KEY", "tenant": "acme"}
    with pytest.raises(byom_sdk.ConfigError) as info:
        create_app(client, profile="openai", api_keys=[entry], environ={"CRM_KEY": secret})
    message = str(info.value)
    assert "'crm'" in message and "'CRM_KEY'" in message and info.value.field == "serve.api_keys.key_env"
    assert secret.strip() not in message and "key-0001" not in message
    with pytest.raises(byom_sdk.ConfigError, match="API key 'key-1'") as plain:
        create_app(client, profile="openai", api_keys=[{"key": secret, "tenant": "acme"}])
    assert secret.strip() not in str(plain.value)


# -- 6. container fan-out is capped ------------------------------------------------------------


def test_container_batches_are_capped_at_max_batch(make_client, start_server):
    generator = ScriptedModel(capabilities=Capabilities(generate=True, chat=True, stream=True))
    client = make_client({"bot": generator})
    app = create_app(client, profile=["sagemaker", "vertex"], settings={"max_batch": 3}, environ=VERTEX_ENV)
    server = start_server(app)
    dialog = [{"role": "user", "content": "hi"}]
    over = [
        ("/invocations", {"inputs": ["a"] * 4, "parameters": {}}, 422),  # TGI / LMI / JumpStart llama-text
        ("/invocations", {"inputs": [dialog] * 4, "parameters": {}}, 422),  # JumpStart llama-chat
        ("/invocations", {"text_inputs": ["a"] * 4}, 422),  # JumpStart text2text
        ("/predict", {"inputs": ["a"] * 4, "parameters": {}}, 422),  # rawPredict, TGI-shaped
        ("/predict", {"instances": [{"prompt": "a"}] * 4}, 400),  # Vertex predict
    ]
    for path, body, status in over:
        answer = httpx.post(server.url + path, json=body)
        assert answer.status_code == status, (path, body, answer.text)
        text = answer.json()["error"] if path == "/invocations" else answer.json()["error"]["message"]
        assert "at most 3 per request" in text and "max_batch" in text
    assert audited_calls(client) == []
    assert httpx.post(server.url + "/predict", json={"instances": [{"prompt": "a"}] * 3}).status_code == 200
    assert httpx.post(server.url + "/invocations", json={"inputs": ["a"] * 3, "parameters": {}}).status_code == 200
    # Several llama-chat dialogs cannot share one stream: refused, not answered for the first only.
    streamed = httpx.post(server.url + "/invocations", json={"inputs": [dialog, dialog], "stream": True})
    assert streamed.status_code == 400 and "one dialog" in streamed.json()["error"]
    assert len(audited_calls(client)) == 6


def test_max_batch_defaults_to_32():
    from byom_sdk.serve import ServeSettings

    assert ServeSettings().max_batch == 32 and ServeSettings().max_header_bytes == 64 * 1024


# -- 7. 404 / 405 in the route's own protocol, 405 with Allow ------------------------------------


def test_405_carries_allow_and_container_routes_answer_in_their_own_shape(make_client, start_server):
    client = make_client({"bot": ScriptedModel()})
    app = create_app(client, profile=["openai", "sagemaker", "vertex"], api_keys=KEYS, environ=VERTEX_ENV)
    server = start_server(app)
    cases = [
        ("GET", "/v1/chat/completions", "POST", lambda b: b["error"]["code"] == "method_not_allowed"),
        ("DELETE", "/v1/models", "GET, HEAD", lambda b: b["error"]["type"] == "invalid_request_error"),
        ("GET", "/invocations", "POST", lambda b: b == {"error": b["error"], "error_type": "validation"}),
        ("POST", "/ping", "GET, HEAD", lambda b: b["error_type"] == "validation"),
        ("GET", "/predict", "POST", lambda b: b["error"]["status"] == "UNIMPLEMENTED" and b["error"]["code"] == 405),
    ]
    for method, path, allow, shaped in cases:
        answer = httpx.request(method, server.url + path, headers=AUTH)
        assert answer.status_code == 405 and answer.headers["allow"] == allow, (path, answer.headers)
        assert shaped(answer.json()), answer.text
    only_containers = start_server(create_app(client, profile=["sagemaker"]))
    missing = httpx.get(only_containers.url + "/nowhere")
    assert missing.status_code == 404 and set(missing.json()) == {"error", "error_type"}
    vertex_only = start_server(create_app(client, profile=["vertex"], environ=VERTEX_ENV))
    assert httpx.get(vertex_only.url + "/nowhere").json()["error"]["status"] == "NOT_FOUND"


# -- 8. OpenAI parameters: honoured, accepted at their no-op value, or refused -----------------


def test_openai_clients_no_op_defaults_are_accepted(make_client, start_server):
    openai = pytest.importorskip("openai")
    client = make_client({"bot": ScriptedModel()})
    server = start_server(create_app(client, profile="openai", api_keys=KEYS))
    with openai.OpenAI(base_url=server.url + "/v1", api_key=ACME_KEY, max_retries=0) as oa:
        reply = oa.chat.completions.create(
            model="bot",
            messages=[USER],
            frequency_penalty=0,
            presence_penalty=0.0,
            logit_bias={},
            logprobs=False,
            parallel_tool_calls=True,
            store=False,
            metadata={},
            service_tier="auto",
            user="end-user-1",
        )
        assert reply.choices[0].message.content == "echo: x"
        assert oa.completions.create(model="bot", prompt="p", echo=False, best_of=1, logit_bias={}).choices
    assert audited_calls(client)[0]["tags"]["end_user"] == "end-user-1"


REFUSED = [
    ("chat", {"logit_bias": {"50256": -100}}, 400, "logit_bias", "unsupported_parameter"),
    ("chat", {"frequency_penalty": 0.5}, 400, "frequency_penalty", "unsupported_parameter"),
    ("chat", {"presence_penalty": -1}, 400, "presence_penalty", "unsupported_parameter"),
    ("chat", {"parallel_tool_calls": False}, 400, "parallel_tool_calls", "unsupported_parameter"),
    ("chat", {"user": 42}, 400, "user", "invalid_value"),
    ("chat", {"max_tokens": 10**12}, 400, "max_tokens", "invalid_value"),
    ("chat", {"max_completion_tokens": 257}, 400, "max_completion_tokens", "invalid_value"),  # over the model's 256
    ("chat", {"repetition_penalty": 1.2}, 400, "repetition_penalty", "unknown_parameter"),
    ("chat", {"messages": [USER, {"role": "tool", "content": "42"}]}, 400, "messages.1.tool_call_id", "invalid_value"),
    ("completions", {"logit_bias": {"1": 1}}, 400, "logit_bias", "unsupported_parameter"),
    ("completions", {"echo": True}, 400, "echo", "unsupported_parameter"),
    ("completions", {"presence_penalty": 2}, 400, "presence_penalty", "unsupported_parameter"),
    ("completions", {"user": ["a"]}, 400, "user", "invalid_value"),
    ("completions", {"max_tokens": 1e12}, 400, "max_tokens", "invalid_value"),
    ("completions", {"messages": [USER]}, 400, "messages", "unknown_parameter"),
    ("embeddings", {"user": 1}, 400, "user", "invalid_value"),
    ("embeddings", {"truncate": True}, 400, "truncate", "unknown_parameter"),
]


@pytest.mark.parametrize(("route", "extra", "status", "param", "code"), REFUSED)
def test_parameters_the_contract_cannot_honour_are_refused(
    make_client, start_server, route, extra, status, param, code
):
    capped = Capabilities(generate=True, chat=True, stream=True, embed=True, max_output_tokens=256)
    client = make_client({"bot": ScriptedModel(capabilities=capped)})
    server = start_server(create_app(client, profile="openai", api_keys=KEYS))
    base = {
        "chat": {"model": "bot", "messages": [USER]},
        "completions": {"model": "bot", "prompt": "p"},
        "embeddings": {"model": "bot", "input": "p"},
    }[route]
    answer = httpx.post(
        f"{server.url}/v1/{route.replace('chat', 'chat/completions')}", json={**base, **extra}, headers=AUTH
    )
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error"), error
    assert audited_calls(client) == []


def test_compressed_bodies_are_415_in_each_protocols_shape(make_client, start_server):
    import gzip

    client = make_client({"bot": ScriptedModel()})
    app = create_app(client, profile=["openai", "sagemaker", "vertex"], api_keys=KEYS, environ=VERTEX_ENV)
    server = start_server(app)
    packed = gzip.compress(json.dumps({"model": "bot", "messages": [USER]}).encode())
    headers = {**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    openai = httpx.post(server.url + "/v1/chat/completions", content=packed, headers=headers)
    assert openai.status_code == 415 and openai.json()["error"]["code"] == "unsupported_content_encoding"
    sagemaker = httpx.post(server.url + "/invocations", content=packed, headers=headers)
    assert sagemaker.status_code == 415 and sagemaker.json()["error_type"] == "validation"
    vertex = httpx.post(server.url + "/predict", content=packed, headers=headers)
    assert vertex.status_code == 415 and vertex.json()["error"]["status"] == "INVALID_ARGUMENT"
    plain = {**headers, "Content-Encoding": "identity"}
    body = json.dumps({"model": "bot", "messages": [USER]}).encode()
    assert httpx.post(server.url + "/v1/chat/completions", content=body, headers=plain).status_code == 200
