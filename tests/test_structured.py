"""Tool calling and structured output through the contract: native requests pass the
schema to the server, others are emulated (instructions, validation, one repair round),
answers become ``parsed`` objects or tool calls, and the trust boundary holds for both."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel, Field

from byom_sdk import (
    BadRequest,
    Boundary,
    Capabilities,
    Client,
    GenerateResponse,
    ModelInfo,
    Provider,
    SchemaError,
    TextDelta,
    ToolCallEvent,
    Usage,
)
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import calls_of
from byom_sdk.trust.testing import CANARIES, assert_no_canaries

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
            "required": ["city"],
        },
    },
}


class Ticket(BaseModel):
    title: str
    priority: int = Field(ge=1, le=5)
    tags: list[str]


def client_for(model, registry, **policy):
    return Client(models={"m": model}, policy={"audit": {"sink": "memory"}, **policy}, registry=registry)


def test_emulated_schema_gives_a_parsed_pydantic_object(registry):
    model = ScriptedModel(['```json\n{"title": "Printer on fire", "priority": 1, "tags": ["hw"]}\n```'])
    with client_for(model, registry) as client:
        reply = client.model("m").generate("File a ticket", response_format=Ticket)
    assert reply.parsed == Ticket(title="Printer on fire", priority=1, tags=["hw"])
    sent = model.requests[0]
    assert sent.response_format is None  # emulated: the container never sees the field
    system = sent.as_messages()[0]
    assert system.role == "system" and '"priority"' in system.content and "JSON schema" in system.content


def test_an_invalid_answer_gets_one_repair_round(registry):
    model = ScriptedModel(['{"title": "x", "priority": 9, "tags": []}', '{"title": "x", "priority": 3, "tags": []}'])
    with client_for(model, registry) as client:
        reply = client.model("m").generate("File a ticket", response_format=Ticket)
        assert reply.parsed.priority == 3
        [first, second] = calls_of(client.trust.sink.records)
    assert first["error_type"] == "SchemaError" and second["outcome"] == "ok"  # both calls audited
    repair = model.requests[1].as_messages()
    assert repair[-2].role == "assistant" and "priority" in repair[-1].content and "not valid" in repair[-1].content


def test_schema_error_after_the_repair_round_carries_the_restored_text(registry):
    model = ScriptedModel(lambda request: f"not json, but {request.as_messages()[-1].content.split()[-1]}")
    with client_for(model, registry) as client, pytest.raises(SchemaError) as info:
        client.model("m").generate("Reply to ann@example.com", response_format={"type": "object"})
    error = info.value
    assert "ann@example.com" in error.details["raw_text"] or "JSON" in error.details["raw_text"]
    assert error.details["errors"] and len(model.requests) == 2
    assert_no_canaries([r.model_dump_json() for r in model.requests], where="what the model saw")


class NativeJSON(Provider):
    """Declares native structured output and tools; records what it was sent."""

    def __init__(self, answer: str = '{"title": "t", "priority": 2, "tags": []}', calls=()) -> None:
        self.answer = answer
        self.calls = calls
        self.requests = []

    @property
    def info(self):
        return ModelInfo(
            id="native",
            provider="native",
            capabilities=Capabilities(
                generate=True, chat=True, stream=True, tools=True, tools_mode="native", structured_output="native"
            ),
            boundary=Boundary(provider="native", location_kind="process", retention="none"),
        )

    def handle_generate(self, request):
        self.requests.append(request)
        return GenerateResponse(
            text=self.answer,
            finish_reason="tool_calls" if self.calls else "stop",
            usage=Usage(input_tokens=1, output_tokens=1, source="server"),
            model="native",
            tool_calls=self.calls,
        )


def test_native_servers_get_the_schema_and_no_repair_round(registry):
    model = NativeJSON()
    with client_for(model, registry) as client:
        assert client.model("m").generate("t", response_format=Ticket).parsed == Ticket(title="t", priority=2, tags=[])
    assert model.requests[0].response_format["json_schema"]["name"] == "Ticket"
    bad = NativeJSON(answer='{"title": 3}')
    with client_for(bad, registry) as client, pytest.raises(SchemaError):
        client.model("m").generate("t", response_format=Ticket)
    assert len(bad.requests) == 1  # a native server's bad answer is not re-asked


def test_native_tool_arguments_are_validated(registry):
    from byom_sdk import ToolCall

    model = NativeJSON(answer="", calls=(ToolCall(id="1", name="get_weather", arguments='{"unit": "K"}'),))
    with client_for(model, registry) as client, pytest.raises(SchemaError, match="get_weather"):
        client.model("m").generate("weather?", tools=[WEATHER])
    assert model.requests[0].tools[0]["function"]["name"] == "get_weather"


CALL = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}'


def test_emulated_tool_round_trip(registry):
    model = ScriptedModel([CALL, "It is 4 degrees in Oslo."])
    with client_for(model, registry) as client:
        m = client.model("m")
        first = m.generate("Weather in Oslo?", tools=[WEATHER])
        assert (first.finish_reason, first.text) == ("tool_calls", "")
        [call] = first.tool_calls
        assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Oslo"})
        history = [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 4}'},
        ]
        final = m.generate(history, tools=[WEATHER])
    assert final.text == "It is 4 degrees in Oslo." and not final.tool_calls
    second = model.requests[1].as_messages()
    assert second[0].role == "system" and "get_weather" in second[0].content
    assert [m.role for m in second[1:]] == ["user", "assistant", "user"]  # tool traffic as text
    assert second[-1].content == 'get_weather returned: {"temp": 4}'  # named by the call it answers


def test_emulated_tool_calls_stream_as_tool_call_events(registry):
    model = ScriptedModel([CALL])
    with client_for(model, registry) as client:
        events = list(client.model("m").stream("Weather in Oslo?", tools=[WEATHER]))

        async def run():
            return [e async for e in client.model("m").astream("Weather in Oslo?", tools=[WEATHER])]

        async_events = asyncio.run(run())
    for got in (events, async_events):
        assert not [e for e in got if isinstance(e, TextDelta)]  # the JSON was the call, not an answer
        [tool] = [e for e in got if isinstance(e, ToolCallEvent)]
        assert tool.tool_call.name == "get_weather"
        assert got[-1].finish_reason == "tool_calls"


def test_a_streamed_schema_answer_is_validated_at_the_end(registry):
    model = ScriptedModel(["plain words"])
    with client_for(model, registry) as client:
        stream = client.model("m").stream("t", response_format={"type": "object", "required": ["a"]})
        texts = []
        with pytest.raises(SchemaError):
            for event in stream:
                texts.append(event)
    assert texts  # the text arrived; the finish event did not


def test_canary_pii_in_tool_arguments_and_results_never_reaches_the_model(registry):
    card, email = CANARIES["CREDIT_CARD"], CANARIES["EMAIL"]
    call = {"id": "c1", "name": "refund", "arguments": json.dumps({"card": card, "email": email})}
    echo = ScriptedModel(
        lambda request: json.dumps({"tool_calls": [{"name": "refund", "arguments": {"card": _card(request)}}]})
    )
    refund = {"type": "function", "function": {"name": "refund", "parameters": {"type": "object"}}}
    history = [
        {"role": "user", "content": f"Refund {email}"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": f"refunded card {card} for {email}"},
    ]
    with client_for(echo, registry) as client:
        reply = client.model("m").generate(history, tools=[refund], metadata={"conversation_id": "c"})
    assert_no_canaries([r.model_dump_json() for r in echo.requests], where="what the model received")
    [returned] = reply.tool_calls
    assert json.loads(returned.arguments)["card"] == card  # the placeholder came back restored


def _card(request) -> str:
    text = "\n".join(m.content for m in request.as_messages())
    start = text.find("<CREDIT_CARD_")
    return text[start : text.index(">", start) + 1] if start != -1 else "none"


def test_tool_choice_none_sends_no_tools_and_expects_text(registry):
    model = ScriptedModel(["Just text."])
    with client_for(model, registry) as client:
        reply = client.model("m").generate("hi", tools=[WEATHER], tool_choice="none")
    assert reply.text == "Just text." and not reply.tool_calls


def test_bad_response_format_is_a_bad_request(registry):
    from byom_sdk import BadRequest

    with client_for(ScriptedModel(), registry) as client, pytest.raises(BadRequest) as info:
        client.model("m").generate("t", response_format=42)
    assert info.value.details["field"] == "response_format"


# -- grammar-constrained providers -----------------------------------------------------------


class Constrained(NativeJSON):
    """Declares grammar-constrained tools and structured output (as byom-onnx does)."""

    @property
    def info(self):
        return super().info.model_copy(
            update={
                "capabilities": super().info.capabilities.model_copy(
                    update={"tools_mode": "constrained", "structured_output": "constrained"}
                )
            }
        )


def test_a_constrained_model_gets_the_schema_and_instructions_for_it(registry):
    model = Constrained()
    with client_for(model, registry) as client:
        assert client.model("m").generate("t", response_format=Ticket).parsed.priority == 2
    sent = model.requests[0]
    assert sent.response_format["json_schema"]["name"] == "Ticket"  # the grammar's source stays
    system = sent.as_messages()[0]
    assert system.role == "system" and '"priority"' in system.content  # and the model is told what to fill


def test_a_constrained_model_answering_with_a_call_in_text_gives_tool_calls(registry):
    model = Constrained(answer='{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}')
    with client_for(model, registry) as client:
        reply = client.model("m").generate("Weather in Oslo?", tools=[WEATHER], tool_choice="required")
    assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [("get_weather", {"city": "Oslo"})]
    assert model.requests[0].tools  # constrained: the provider builds its grammar from them


def test_reply_constraint_says_what_a_reply_may_be():
    from byom_sdk import GenerateRequest, reply_constraint

    assert reply_constraint(GenerateRequest(prompt="hi")) is None
    no_call = reply_constraint(GenerateRequest(prompt="hi", tools=(WEATHER,), tool_choice="none"))
    assert no_call.schemas == [] and no_call.free_text  # text, never a call
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}  # as providers get it
    only_answer = reply_constraint(GenerateRequest(prompt="hi", response_format=response_format))
    assert only_answer.tool_call is None and only_answer.answer == schema and not only_answer.free_text
    auto = reply_constraint(GenerateRequest(prompt="hi", tools=(WEATHER,)))
    assert auto.free_text and auto.answer is None
    call = auto.tool_call["properties"]["tool_calls"]["items"]
    assert call["properties"]["name"] == {"const": "get_weather"}
    assert call["properties"]["arguments"]["required"] == ["city"]
    forced = reply_constraint(
        GenerateRequest(prompt="hi", tools=(WEATHER,), tool_choice="required", response_format=response_format)
    )
    assert forced.schemas == [forced.tool_call] and not forced.free_text  # a required call leaves no answer
    either = reply_constraint(GenerateRequest(prompt="hi", tools=(WEATHER,), response_format=response_format))
    assert either.schemas == [either.tool_call, schema] and not either.free_text


def test_tool_history_goes_as_text_to_a_model_without_native_tools_when_no_tool_is_asked(registry):
    model = ScriptedModel(["It is 4 degrees in Oslo."])
    history = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": '{"city": "Oslo"}'}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 4}'},
    ]
    with client_for(model, registry) as client:
        assert client.model("m").generate(history, tools=[WEATHER], tool_choice="none").text.startswith("It is 4")
    sent = model.requests[0].as_messages()
    assert [m.role for m in sent] == ["user", "assistant", "user"] and not sent[1].tool_calls
    assert sent[-1].content == 'get_weather returned: {"temp": 4}'


def _schema_format(schema):
    return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"response_format": _schema_format({"type": "nonsense"})}, "response_format", "not a usable JSON schema"),
        ({"response_format": _schema_format({"type": "string", "pattern": "("})}, "response_format", "regex"),
        ({"response_format": _schema_format({"type": "number", "minimum": "abc"})}, "response_format", "minimum"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 7}}}]},
            "tools.0.parameters",
            "not a usable JSON schema",
        ),
        ({"tools": "x"}, "tools", "list of tool definitions"),
        ({"stop": 5}, "stop", "not iterable"),
        ({"tool_choice": "bogus"}, "tool_choice", "'auto', 'none', 'required'"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
            "names tool 'nope', which tools does not offer (offered: 'get_weather')",
        ),
        ({"tool_choice": "required"}, "tool_choice", "'required' needs tools to call"),
        ({"tools": [{"type": "function", "function": {}}]}, "tools", "tools[0] has no function name"),
        ({"extra": {"f": object()}}, "extra", "not JSON serializable"),
        ({"extra": {"f": float("nan")}}, "extra", "not JSON compliant"),
        ({"temperature": float("nan")}, "temperature", "finite number"),
    ],
)
def test_an_unusable_schema_or_argument_is_a_bad_request_before_the_model_is_called(kwargs, field, fragment):
    model = ScriptedModel(['{"a": 1}'])
    with Client(models={"m": model}, trust="off") as client, pytest.raises(BadRequest) as caught:
        client.model("m").generate("hi", **kwargs)
    assert caught.value.details["field"] == field and fragment in str(caught.value)
    assert model.requests == []


def test_an_answer_nested_too_deeply_is_a_schema_error_not_a_recursion_error():
    deep = "[" * 5000 + "]" * 5000
    with (
        Client(models={"m": ScriptedModel([deep])}, trust="off") as client,
        pytest.raises(SchemaError, match="nested too deeply"),
    ):
        client.model("m").generate("hi", response_format=_schema_format({"type": "array"}))


@pytest.mark.parametrize(
    ("choice", "answers", "message"),
    [
        ("required", ["It is sunny.", "Still sunny."], "tool_choice asked for a tool call, and the model answered"),
        (
            {"type": "function", "function": {"name": "get_time"}},
            [CALL, CALL],
            "tool_choice asked for tool 'get_time', and the model called 'get_weather'",
        ),
    ],
    ids=["required-answered-with-text", "named-answered-with-another-tool"],
)
def test_an_answer_that_ignores_tool_choice_is_a_schema_error(registry, choice, answers, message):
    """tool_choice "required" or a named tool means a call of it (docs/tools-and-structured-output.md);
    an emulated model gets its repair round first, then the app gets a SchemaError, never text."""
    time_tool = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
    model = ScriptedModel(answers)
    with client_for(model, registry) as client, pytest.raises(SchemaError, match=message):
        client.model("m").generate("Weather in Oslo?", tools=[WEATHER, time_tool], tool_choice=choice)
    assert len(model.requests) == 2  # the answer, then the repair round


@pytest.mark.parametrize("consume", ["sync", "async"])
def test_a_stream_of_an_emulated_tool_call_gets_the_repair_round(registry, consume):
    """As generate does: the held answer was refused as a call, so nothing reached the app,
    and the repaired call streams instead; both calls audited."""
    bad = '{"tool_calls": [{"name": "get_weather", "arguments": {"town": "Oslo"}}]}'
    good = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}'
    model = ScriptedModel([bad, good])
    with client_for(model, registry) as client:
        if consume == "sync":
            events = list(client.model("m").stream("Weather in Oslo?", tools=[WEATHER]))
        else:

            async def read():
                return [e async for e in client.model("m").astream("Weather in Oslo?", tools=[WEATHER])]

            events = asyncio.run(read())
        [first, second] = calls_of(client.trust.sink.records)
    calls = [e.tool_call for e in events if isinstance(e, ToolCallEvent)]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Oslo"})]
    assert not [e for e in events if isinstance(e, TextDelta)]  # the refused answer never showed
    assert first["error_type"] == "SchemaError" and second["outcome"] == "ok"
    assert len(model.requests) == 2 and "not valid" in model.requests[1].as_messages()[-1].content
