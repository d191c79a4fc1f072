"""Each fault scenario → the right byom error, retryable flag and number of attempts.

Attempts are counted twice: by the core retry policy (``error.attempts``) and by the
server's request log, so a retry hidden inside botocore would show up as a mismatch.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from byom_sagemaker import SageMakerConfig, SageMakerModel

from byom_sdk import (
    AuthError,
    BadRequest,
    FinishEvent,
    GenerateRequest,
    ModelError,
    ProviderError,
    TextDelta,
    Throttled,
    Timeout,
    Unavailable,
)
from byom_sdk.testing import ScriptedModel

REPLY = "one two three four five six"

# fault, extra fault params, error type, retryable, code
FAULTS = [
    ("throttle", {}, Throttled, True, "ThrottlingException"),
    ("too_many_requests", {}, Throttled, True, "429"),
    ("not_ready", {}, Unavailable, True, "ModelNotReadyException"),
    ("model_error", {"original_status": 503}, ModelError, True, "ModelError"),
    ("model_error", {"original_status": 429}, ModelError, True, "ModelError"),
    ("model_error", {"original_status": 400}, ModelError, False, "ModelError"),
    ("model_error", {"original_status": 500}, ModelError, False, "ModelError"),
    ("unavailable", {}, Unavailable, True, "ServiceUnavailable"),
    ("internal_failure", {}, Unavailable, True, "InternalFailure"),
    ("validation", {}, BadRequest, False, "ValidationError"),
    ("dependency_failure", {}, Unavailable, False, "InternalDependencyException"),
    ("access_denied", {}, AuthError, False, "AccessDeniedException"),
]
IDS = [f"{f[0]}-{f[1].get('original_status', '')}".rstrip("-") for f in FAULTS]


@pytest.fixture
def bot(server, make_client):
    server.add_endpoint("ep", "tgi", ScriptedModel([REPLY]))
    client = make_client({"bot": server.model_config("ep", not_ready_retry_after=0.01)})
    return client.model("bot")


@pytest.mark.parametrize(("fault", "params", "error_type", "retryable", "code"), FAULTS, ids=IDS)
def test_persistent_fault_gives_typed_error_after_the_right_attempts(
    server, bot, fault, params, error_type, retryable, code
):
    server.inject(fault, times=10, **params)
    with pytest.raises(error_type) as info:
        bot.generate("hi")
    error = info.value
    expected_attempts = 3 if retryable else 1
    assert error.retryable is retryable
    assert error.code == code
    assert error.provider == "sagemaker"
    assert error.attempts == expected_attempts
    assert len(server.requests_for("ep")) == expected_attempts
    assert "SageMaker endpoint 'ep' (eu-west-1)" in str(error)
    assert isinstance(error.__cause__, Exception) and type(error.__cause__).__module__.startswith("botocore")


@pytest.mark.parametrize(("fault", "params", "error_type", "retryable", "code"), FAULTS, ids=IDS)
def test_one_transient_fault_then_success(server, bot, fault, params, error_type, retryable, code):
    server.inject(fault, **params)
    if retryable:
        assert bot.generate("hi").text == REPLY
        assert [r.fault for r in server.requests_for("ep")] == [fault, None]
    else:
        with pytest.raises(error_type):
            bot.generate("hi")
        assert len(server.requests_for("ep")) == 1


def test_model_error_keeps_the_container_details(server, make_model):
    server.add_endpoint("ep", "tgi")
    server.inject("model_error", original_status=400, message="input too long")
    with pytest.raises(ModelError) as info:
        make_model("ep").generate("hi")
    details = info.value.details
    assert details["original_status_code"] == 400
    assert "input too long" in details["original_message"]
    assert details["log_stream_arn"].endswith("/aws/sagemaker/Endpoints/ep")
    assert info.value.status_code == 424


def test_not_ready_asks_for_a_longer_backoff(server, make_model):
    server.add_endpoint("ep", "tgi")
    server.inject("not_ready")
    with pytest.raises(Unavailable) as info:
        make_model("ep").generate("hi")
    assert info.value.retry_after == 5.0  # the default cold-start hint
    assert info.value.status_code == 429


def test_retry_after_header_is_read(server, make_model):
    server.add_endpoint("ep", "tgi")
    server.inject("throttle", retry_after=2.5)
    with pytest.raises(Throttled) as info:
        make_model("ep").generate("hi")
    assert info.value.retry_after == 2.5


def test_container_overload_from_the_backing_model_is_retried(server, make_client):
    backend = ScriptedModel([REPLY], failures=[Throttled("busy", provider="scripted")])
    server.add_endpoint("ep", "tgi", backend)
    model = make_client({"bot": server.model_config("ep")}).model("bot")
    assert model.generate("hi").text == REPLY
    assert [r.status for r in server.requests_for("ep")] == [424, 200]


def test_read_timeout_is_not_retried(server, make_client):
    server.add_endpoint("ep", "tgi")
    server.inject("delay", seconds=1.0)
    model = make_client({"bot": server.model_config("ep", read_timeout=0.3)}).model("bot")
    started = time.perf_counter()
    with pytest.raises(Timeout) as info:
        model.generate("hi")
    assert time.perf_counter() - started < 0.9
    assert info.value.retryable is False and info.value.attempts == 1
    time.sleep(0.2)  # a retry, had there been one, would have reached the server by now
    assert len(server.requests_for("ep")) == 1


def test_request_timeout_lowers_the_read_timeout_per_call(server, make_model):
    server.add_endpoint("ep", "tgi")
    model = make_model("ep", read_timeout=30)
    assert model.per_call_timeouts
    server.inject("delay", seconds=1.0)
    started = time.perf_counter()
    with pytest.raises(Timeout):
        model.generate(GenerateRequest(prompt="hi", timeout=0.3))
    assert time.perf_counter() - started < 0.9
    # The budget applied to that call only: the next call gets the config's read timeout.
    server.inject("delay", seconds=0.5)
    assert model.generate("hi").text == "echo: hi"


def test_retry_deadline_becomes_the_read_timeout(server, make_client):
    server.add_endpoint("ep", "tgi")
    server.inject("delay", seconds=1.5)
    retry = {"max_attempts": 3, "initial_backoff": 0.001, "jitter": False, "deadline": 0.4}
    model = make_client({"bot": server.model_config("ep")}, retry=retry).model("bot")
    started = time.perf_counter()
    with pytest.raises(Timeout):
        model.generate("hi")
    assert time.perf_counter() - started < 1.2


def test_connection_refused_is_unavailable_and_retried(server, make_client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server.add_endpoint("ep", "tgi")
    model = make_client(
        {"bot": server.model_config("ep", endpoint_url=f"http://127.0.0.1:{port}", connect_timeout=0.5)}
    ).model("bot")
    with pytest.raises(Unavailable) as info:
        model.generate("hi")
    assert info.value.retryable and info.value.attempts == 3
    assert info.value.code == "EndpointConnectionError"


def test_bad_signature_is_an_auth_error_not_retried(server, make_client):
    server.add_endpoint("ep", "tgi")
    config = server.model_config("ep", credentials={"access_key_id": "AKIDBYOMTEST", "secret_access_key": "wrong"})
    with pytest.raises(AuthError) as info:
        make_client({"bot": config}).model("bot").generate("hi")
    assert info.value.code == "InvalidSignatureException" and info.value.attempts == 1
    assert [r.signature for r in server.requests_for("ep")] == ["invalid"]


def test_unknown_access_key_is_an_auth_error(server, make_model):
    server.add_endpoint("ep", "tgi")
    with pytest.raises(AuthError, match="UnrecognizedClientException"):
        make_model("ep", credentials={"access_key_id": "AKIDOTHER", "secret_access_key": "x"}).generate("hi")


def test_unknown_endpoint_is_a_bad_request_naming_it(server, make_model):
    server.add_endpoint("ep", "tgi")
    with pytest.raises(BadRequest, match=r"SageMaker endpoint 'nope'.*Endpoint nope of account"):
        make_model("ep", endpoint_name="nope").generate("hi")


# -- streams ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error_type", "code"),
    [
        ("model_stream_error", ModelError, "ModelStreamError"),
        ("internal_stream_failure", Unavailable, "InternalStreamFailure"),
    ],
)
def test_mid_stream_error_is_raised_after_the_deltas_and_not_retried(server, make_client, fault, error_type, code):
    server.add_endpoint("ep", "tgi", ScriptedModel([REPLY]))
    server.inject(fault, after_parts=2)
    model = make_client({"bot": server.model_config("ep")}).model("bot")
    seen = []
    with pytest.raises(error_type) as info:
        for event in model.stream("hi"):
            seen.append(event)
    assert [e.text for e in seen] == ["one", " two"]
    assert info.value.code == code
    assert info.value.attempts == 1
    assert info.value.details["partial_text"] == "one two"
    assert len(server.requests_for("ep")) == 1


async def test_mid_stream_error_async(server, make_client):
    server.add_endpoint("ep", "openai", ScriptedModel([REPLY]))
    server.inject("model_stream_error", after_parts=3)
    model = make_client({"bot": server.model_config("ep")}).model("bot")
    seen = []
    with pytest.raises(ModelError, match="mid-stream"):
        async for event in model.astream("hi"):
            seen.append(event)
    assert "".join(e.text for e in seen if isinstance(e, TextDelta)) == "one two"
    assert len(server.requests_for("ep")) == 1


def test_stream_failure_before_the_first_event_is_retried(server, make_client):
    server.add_endpoint("ep", "tgi", ScriptedModel([REPLY]))
    server.inject("internal_stream_failure", after_parts=0)
    server.inject("throttle")
    model = make_client({"bot": server.model_config("ep")}).model("bot")
    events = list(model.stream("hi"))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == REPLY
    assert isinstance(events[-1], FinishEvent)
    assert [r.fault for r in server.requests_for("ep")] == ["internal_stream_failure", "throttle", None]


def test_container_failure_mid_stream_is_a_model_error(server, make_model):
    class Breaks(ScriptedModel):
        def _stream(self, request):
            yield TextDelta(text="partial")
            yield TextDelta(text=" more")  # TGI sends a token once the next one exists
            raise Unavailable("backend died", provider="scripted")

    server.add_endpoint("ep", "tgi", Breaks())
    seen = []
    with pytest.raises(ModelError, match=r"failed mid-stream.*backend died") as info:
        for event in make_model("ep").stream("hi"):
            seen.append(event)
    assert seen == [TextDelta(text="partial")]
    assert info.value.code == "ModelStreamError"


def test_async_fault_retry_counts(server, make_client):
    server.add_endpoint("ep", "tgi", ScriptedModel([REPLY]))
    server.inject("unavailable", times=2)
    model = make_client({"bot": server.model_config("ep")}).model("bot")
    assert asyncio.run(model.agenerate("hi")).text == REPLY
    assert len(server.requests_for("ep")) == 3


def test_undecodable_body_is_a_model_error_naming_the_codec(server, make_model):
    server.add_endpoint("ep", "tei")  # answers a list of vectors, not a generation
    model = make_model("ep", codec="lmi")
    with pytest.raises(ModelError, match="codec 'lmi' cannot decode the response") as info:
        model.generate("hi")
    assert not isinstance(info.value.__cause__, ProviderError)


def test_direct_model_without_client_raises_mapped_errors(server):
    server.add_endpoint("ep", "tgi")
    config = server.model_config("ep")
    config.pop("provider")
    server.inject("throttle")
    with SageMakerModel(SageMakerConfig(**config)) as model, pytest.raises(Throttled):
        model.generate("hi")  # no ManagedModel, so no retry: exactly one attempt
    assert len(server.requests_for("ep")) == 1
