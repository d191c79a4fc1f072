"""OpenTelemetry spans with gen_ai.* attributes; content off by default."""

from __future__ import annotations

import json

import pytest

from byom_sdk import Boundary, PolicyViolation
from byom_sdk.testing import ScriptedModel

pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry import trace

pytestmark = pytest.mark.usefixtures("otel_exporter")  # spans on for every test here


def test_generate_span(make_client, spans):
    model = ScriptedModel(
        boundary=Boundary(
            provider="sagemaker",
            location_kind="customer-cloud",
            region="eu-west-1",
            endpoint="https://runtime.sagemaker.eu-west-1.amazonaws.com",
            tls=True,
        ),
        model_id="support-bot-v3",
    )
    client = make_client({"bot": model})
    client.model("bot").generate("mail ann@example.com", max_tokens=50, temperature=0.0)
    [span] = spans.get_finished_spans()
    attrs = dict(span.attributes)
    assert span.name == "chat support-bot-v3"
    assert span.kind == trace.SpanKind.CLIENT
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "scripted"
    assert attrs["gen_ai.request.model"] == "support-bot-v3"
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["server.address"] == "runtime.sagemaker.eu-west-1.amazonaws.com"
    assert attrs["gen_ai.usage.input_tokens"] == 2 and attrs["gen_ai.usage.output_tokens"] == 3
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["byom.trust.outcome"] == "ok" and attrs["byom.trust.entities"] == 1
    assert not any("messages" in key for key in attrs)  # content off by default
    assert "ann@example.com" not in json.dumps(attrs)


def test_stream_and_blocked_spans(make_client, spans):
    client = make_client(
        {
            "local": ScriptedModel(),
            "far": ScriptedModel(boundary=Boundary(provider="x", location_kind="third-party")),
        }
    )
    list(client.model("local").stream("hi"))
    with pytest.raises(PolicyViolation):
        client.model("far").generate("hi")
    local, far = spans.get_finished_spans()
    assert local.kind == trace.SpanKind.INTERNAL and local.attributes["gen_ai.operation.name"] == "chat"
    assert far.attributes["error.type"] == "PolicyViolation"
    assert far.attributes["byom.trust.rule"] == "allowed_location_kinds"
    assert far.status.status_code == trace.StatusCode.ERROR


def test_content_capture_is_masked(make_client, spans):
    client = make_client({"m": ScriptedModel()}, {"telemetry": {"capture_content": True}})
    client.model("m").generate("mail ann@example.com")
    [span] = spans.get_finished_spans()
    assert "<EMAIL_" in span.attributes["gen_ai.input.messages"]
    assert "<EMAIL_" in span.attributes["gen_ai.output.messages"]
    assert "ann@example.com" not in json.dumps(dict(span.attributes))


def test_telemetry_can_be_disabled(make_client, spans):
    client = make_client({"m": ScriptedModel()}, {"telemetry": {"enabled": False}})
    client.model("m").generate("x")
    assert spans.get_finished_spans() == ()
