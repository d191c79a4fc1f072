"""The local server itself: event-stream framing, SigV4 checks, routing and the log."""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from byom_sagemaker.testing import (
    LocalSageMakerServer,
    encode_error,
    encode_exception,
    encode_message,
    encode_payload_part,
)
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=50, deadline=None)
@given(payload=st.binary(max_size=300), value=st.text(max_size=40))
def test_encoder_frames_decode_with_botocore(payload, value):
    frame = encode_message({":message-type": "event", "x-custom": value}, payload)
    buffer = EventStreamBuffer()
    buffer.add_data(frame)
    (message,) = list(buffer)
    assert message.payload == payload
    assert message.headers == {":message-type": "event", "x-custom": value}


def test_payload_part_and_exception_frames():
    buffer = EventStreamBuffer()
    buffer.add_data(
        encode_payload_part(b'data:{"x":1}\n\n')
        + encode_exception("ModelStreamError", "m", error_code="E")
        + encode_error("Code", "msg")
    )
    part, exc, err = list(buffer)
    assert part.headers[":event-type"] == "PayloadPart" and part.payload == b'data:{"x":1}\n\n'
    assert exc.headers[":exception-type"] == "ModelStreamError"
    assert json.loads(exc.payload) == {"Message": "m", "ErrorCode": "E"}
    assert err.headers == {":message-type": "error", ":error-code": "Code", ":error-message": "msg"}


def test_corrupted_frame_fails_the_checksum():
    frame = bytearray(encode_payload_part(b"hello"))
    frame[-6] ^= 0xFF
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(frame))
    with pytest.raises(ChecksumMismatch):
        list(buffer)


def test_raw_boto3_streaming_against_the_server(server):
    server.add_endpoint("ep", "tgi")
    server.part_size = 7  # PayloadParts cut mid-line, as the real service may
    runtime = boto3.client(
        "sagemaker-runtime",
        region_name="eu-west-1",
        endpoint_url=server.url,
        aws_access_key_id="AKIDBYOMTEST",
        aws_secret_access_key="byom-test-secret",
    )
    try:
        response = runtime.invoke_endpoint_with_response_stream(
            EndpointName="ep", Body=b'{"inputs":"hi there","parameters":{}}', ContentType="application/json"
        )
        assert response["ContentType"] == "text/event-stream"
        parts = [event["PayloadPart"]["Bytes"] for event in response["Body"]]
        assert all(len(p) <= 7 for p in parts) and len(parts) > 10
        assert b"".join(parts).count(b"data:") == 4  # "echo:", " hi", " there" and the eos event
    finally:
        runtime.close()


def test_server_binds_loopback_only_and_answers_ping():
    with LocalSageMakerServer() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server._httpd.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(f"{server.url}/ping", timeout=5) as reply:
            assert reply.status == 200
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url


def test_unsigned_request_is_refused_when_sigv4_is_on(server):
    server.add_endpoint("ep", "tgi")
    request = urllib.request.Request(f"{server.url}/endpoints/ep/invocations", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    with info.value:  # HTTPError holds the response open
        assert info.value.code == 403
        assert info.value.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException")
    assert server.requests[0].signature == "invalid"


def test_request_log_and_clear(server, make_model):
    server.add_endpoint("ep", "tgi")
    make_model("ep").generate("hello")
    (logged,) = server.requests
    assert logged.json["inputs"] == "hello"
    assert logged.header("Content-Type") == "application/json"
    assert logged.status == 200 and logged.endpoint == "ep" and logged.operation == "invoke"
    server.inject("throttle", times=3)
    server.clear()
    assert server.requests == []
    make_model("ep").generate("hello")  # the queued faults were cleared too
    assert server.requests[0].status == 200


def test_faults_can_target_one_endpoint(server, make_model):
    server.add_endpoint("a", "tgi")
    server.add_endpoint("b", "tgi")
    server.inject("unavailable", endpoint="b")
    assert make_model("a").generate("x").text == "echo: x"
    assert [r.fault for r in server.requests_for("a")] == [None]
    assert server._faults  # still queued for "b"


def test_unknown_fault_is_refused(server):
    with pytest.raises(ValueError, match="unknown fault"):
        server.inject("meteor")  # type: ignore[arg-type]
