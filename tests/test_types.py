"""The contract's data types validate input and name the field at fault."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from byom_sdk import (
    Attestation,
    Boundary,
    Capabilities,
    EmbedRequest,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    InvalidValue,
    Message,
    ModelInfo,
    StreamEvent,
    TextDelta,
    Usage,
    UsageEvent,
)


def _field_of(error: InvalidValue) -> str:
    """The failing field under its type's name (``GenerateRequest.max_tokens`` -> ``max_tokens``)."""
    assert error.field is not None
    return error.field.split(".", 1)[1]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prompt": "hi", "max_tokens": 0}, "max_tokens"),
        ({"prompt": "hi", "temperature": -1}, "temperature"),
        ({"prompt": "hi", "top_p": 0}, "top_p"),
        ({"prompt": "hi", "top_k": -2}, "top_k"),
        ({"prompt": "hi", "stop": [""]}, "stop"),
        ({"prompt": "hi", "unknown": 1}, "unknown"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"prompt": "hi", "metadata": {"tenant": 5}}, "metadata.tenant"),
    ],
)
def test_bad_request_fields_are_named(fields, field):
    """Each invalid request field is reported by its dotted name."""
    with pytest.raises(InvalidValue) as info:
        GenerateRequest(**fields)
    assert _field_of(info.value) == field


def test_prompt_and_messages_are_exclusive():
    """A request has exactly one of prompt or messages, and messages are non-empty."""
    with pytest.raises(InvalidValue, match="exactly one"):
        GenerateRequest(prompt="a", messages=[{"role": "user", "content": "b"}])
    with pytest.raises(InvalidValue, match="exactly one"):
        GenerateRequest()
    with pytest.raises(InvalidValue, match="must not be empty"):
        GenerateRequest(messages=[])


def test_request_is_immutable_and_prompt_becomes_a_user_message():
    """Requests are frozen; a prompt reads as one user message."""
    request = GenerateRequest(prompt="hello", temperature=0)
    with pytest.raises(InvalidValue):
        request.prompt = "changed"  # type: ignore[misc]
    assert request.as_messages() == (Message(role="user", content="hello"),)
    assert request.is_greedy


def test_usage_totals_and_estimate():
    """Usage totals input and output; the estimate is tagged as an estimate."""
    usage = Usage(input_tokens=3, output_tokens=4, source="server")
    assert usage.total_tokens == 7
    guess = Usage.estimate("12345678", "1234")
    assert (guess.input_tokens, guess.output_tokens, guess.source) == (2, 1, "estimate")
    with pytest.raises(InvalidValue):
        Usage(input_tokens=1, output_tokens=1, source="tiktoken")


def test_stream_events_parse_by_type():
    """Stream events round-trip through JSON using the `type` discriminator."""
    adapter = TypeAdapter(list[StreamEvent])
    usage = Usage(input_tokens=1, output_tokens=2, source="tokenizer")
    events = [TextDelta(text="a"), UsageEvent(usage=usage), FinishEvent(finish_reason="stop", usage=usage)]
    assert adapter.validate_json(adapter.dump_json(events)) == events


def test_response_raw_is_kept_but_not_serialised_or_shown():
    """The raw provider body is available for debugging but never dumped or repr'd."""
    response = GenerateResponse(
        text="t",
        finish_reason="stop",
        model="m",
        usage=Usage(input_tokens=0, output_tokens=1, source="server"),
        raw={"secret": "body"},
    )
    assert response.raw == {"secret": "body"}
    assert "secret" not in response.model_dump_json()
    assert "secret" not in repr(response)


def test_boundary_attestation_lookup_and_model_info():
    """Attestations are found by name; ModelInfo bundles capabilities and boundary."""
    boundary = Boundary(
        provider="sagemaker",
        location_kind="customer-cloud",
        region="eu-west-1",
        attestations=(Attestation(name="data_capture", value="off", ok=True, source="DescribeEndpoint"),),
    )
    assert boundary.attestation("data_capture").ok
    assert boundary.attestation("kms") is None
    info = ModelInfo(id="m", provider="sagemaker", capabilities=Capabilities(generate=True), boundary=boundary)
    assert info.capabilities.generate and not info.capabilities.embed
    with pytest.raises(InvalidValue) as err:
        Boundary(provider="x", location_kind="moon")
    assert _field_of(err.value) == "location_kind"


def test_embed_request_needs_texts():
    """An embedding request needs at least one text."""
    with pytest.raises(InvalidValue) as err:
        EmbedRequest(texts=())
    assert _field_of(err.value) == "texts"


def test_openai_message_shapes_round_trip():
    """OpenAI wire messages (text parts, function tool calls) convert both ways."""
    from byom_sdk import ToolCall, messages_from_openai, messages_to_openai

    wire = [
        {"role": "system", "content": [{"type": "text", "text": "be "}, {"type": "text", "text": "brief"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    messages = messages_from_openai(wire)
    assert messages[0] == Message(role="system", content="be brief")
    assert messages[1].tool_calls == (ToolCall(id="c1", name="f", arguments='{"a": 1}'),)
    assert messages_from_openai(messages_to_openai(messages)) == messages
    with pytest.raises(ValueError):
        messages_from_openai([{"role": "user", "content": 5}])


def test_an_embed_batch_with_bad_items_names_the_items_not_a_length():
    from byom_sdk import BadRequest, Client
    from byom_sdk.testing import ScriptedModel

    with Client(models={"m": ScriptedModel(["x"])}, trust="off") as client, pytest.raises(BadRequest) as caught:
        client.model("m").embed(["ok", "\udced"])
    assert "texts.1" in str(caught.value) and "at least 1 item" not in str(caught.value)


def test_an_invalid_contract_value_is_the_sdks_error_naming_the_field():
    """No raw pydantic error reaches the application: building or assigning a contract type
    wrongly raises InvalidValue (a ByomError and a ValueError) naming type and field."""
    from byom_sdk import ByomError

    with pytest.raises(InvalidValue) as info:
        Message(role="robot", content="hi")  # type: ignore[arg-type]
    assert isinstance(info.value, ByomError) and isinstance(info.value, ValueError)
    assert info.value.field == "Message.role" and "Message.role" in str(info.value)
    with pytest.raises(InvalidValue) as info:
        GenerateRequest(messages=[{"role": "user", "content": "a\x00b"}])  # type: ignore[list-item]
    assert info.value.field == "GenerateRequest.messages.0.content"
    request = GenerateRequest(prompt="hi")
    with pytest.raises(InvalidValue, match="immutable: build a changed copy with model_copy"):
        request.max_tokens = 5  # type: ignore[misc]
    # pydantic's own API keeps pydantic's error (the SDK reads it into BadRequest itself).
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        GenerateRequest.model_validate({"prompt": "hi", "max_tokens": 0})


def test_a_plugin_building_an_invalid_response_fails_the_call_naming_the_plugin(registry):
    import byom_sdk
    from byom_sdk.testing import ScriptedModel

    class Broken(ScriptedModel):
        def _generate(self, request: GenerateRequest) -> GenerateResponse:
            return GenerateResponse(text="x", finish_reason="done")  # type: ignore[arg-type]

    client = byom_sdk.Client(models={"m": Broken()}, policy={"audit": {"sink": "memory"}}, registry=registry)
    with client:
        with pytest.raises(byom_sdk.ProviderError, match="provider 'scripted' raised InvalidValue"):
            client.model("m").generate("hi")
        with pytest.raises(byom_sdk.BadRequest) as info:
            client.model("m").generate("hi", max_tokens=0)  # the caller's error, as before
    assert info.value.details["field"] == "max_tokens"


@pytest.mark.parametrize("value", ["yes", "false", 1, 0])
def test_normalize_is_a_bool_never_a_word_or_a_number_read_as_one(value):
    # A batch line's "normalize": "no" must not become True (pydantic's lax mode reads it).
    with pytest.raises(InvalidValue) as info:
        EmbedRequest(texts=("a",), normalize=value)
    assert _field_of(info.value) == "normalize"
    assert EmbedRequest(texts=("a",), normalize=False).normalize is False
