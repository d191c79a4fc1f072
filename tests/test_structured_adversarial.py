"""Adversarial answers and schemas for structured output and tool calls: what is not JSON is
refused, schema features are held to, huge or deep input stays bounded, errors are typed,
name the path and do not quote the answer, and a stream checks what a unary call checks."""

from __future__ import annotations

import asyncio
import datetime
import enum
import json
import re
import time
import uuid

import pytest
from pydantic import BaseModel, ConfigDict

from byom_sdk import (
    BadRequest,
    Boundary,
    Capabilities,
    Client,
    FinishEvent,
    GenerateResponse,
    ModelInfo,
    Provider,
    SchemaError,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from byom_sdk.testing import ScriptedModel

NUMBER_TOOL = {
    "type": "function",
    "function": {
        "name": "f",
        "parameters": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
    },
}
# As pydantic writes a model with a nested one: the parameters refer to their own $defs.
NESTED_TOOL = {
    "type": "function",
    "function": {
        "name": "g",
        "parameters": {
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/A"}},
            "$defs": {"A": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}},
        },
    },
}


class Native(Provider):
    """A native server: answers as told, tool calls as the protocol's own, streamed too."""

    def __init__(self, answer: str = "", calls: tuple[ToolCall, ...] = ()) -> None:
        self.answer, self.calls, self.requests = answer, calls, []

    @property
    def info(self):
        caps = Capabilities(
            generate=True, chat=True, stream=True, tools=True, tools_mode="native", structured_output="native"
        )
        return ModelInfo(
            id="n", provider="n", capabilities=caps, boundary=Boundary(provider="n", location_kind="process")
        )

    def handle_generate(self, request):
        self.requests.append(request)
        return GenerateResponse(
            text=self.answer,
            finish_reason="tool_calls" if self.calls else "stop",
            usage=Usage(input_tokens=1, output_tokens=1, source="server"),
            model="n",
            tool_calls=self.calls,
        )

    def handle_stream(self, request):
        self.requests.append(request)
        for call in self.calls:
            yield ToolCallEvent(tool_call=call)
        yield FinishEvent(finish_reason="tool_calls" if self.calls else "stop")


def _format(schema):
    return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}


def _generate(model, *args, **kwargs):
    with Client(models={"m": model}, trust="off") as client:
        return client.model("m").generate(*args, **kwargs)


NUMBER = _format({"type": "object", "properties": {"x": {"type": "number"}}})


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        ('{"x": NaN}', "NaN is not a JSON number"),
        ('{"x": -Infinity}', "-Infinity is not a JSON number"),
        ('{"x": 1e400}', "too large for a float"),
        ('{"x": 1' + "0" * 5000 + "}", "5001 digits is too long"),
        ('{"x": "text", "x": 1}', "the key 'x' appears twice"),
    ],
    ids=["nan", "infinity", "float-overflow", "huge-int", "duplicate-key"],
)
def test_an_answer_or_arguments_that_are_not_json_are_refused(answer, fragment):
    with pytest.raises(SchemaError, match=fragment):
        _generate(Native(answer), "hi", response_format=NUMBER)
    call = ToolCall(id="1", name="f", arguments=answer)
    with pytest.raises(SchemaError, match=f"tool call 'f' are not JSON: .*{fragment}"):
        _generate(Native(calls=(call,)), "hi", tools=[NUMBER_TOOL])


def test_format_is_asserted_but_a_pydantic_class_judges_its_own():
    schema = {"type": "object", "properties": {"e": {"type": "string", "format": "email"}}}
    with pytest.raises(SchemaError, match=r"e: .* is not a 'email'"):
        _generate(Native('{"e": "nobody"}'), "hi", response_format=_format(schema))
    with pytest.raises(SchemaError, match=r"when: .* is not a 'date'"):
        _generate(
            Native('{"when": "yesterday"}'), "hi", response_format=_format({"properties": {"when": {"format": "date"}}})
        )

    class Stamp(BaseModel):
        at: datetime.datetime  # pydantic takes a naive time; RFC 3339's date-time does not

    reply = _generate(Native('{"at": "2024-01-02T03:04:05"}'), "hi", response_format=Stamp)
    assert reply.parsed == Stamp(at=datetime.datetime(2024, 1, 2, 3, 4, 5))


class Color(enum.Enum):
    RED = "red"


class Strict(BaseModel):
    model_config = ConfigDict(strict=True)
    when: datetime.date
    id: uuid.UUID
    color: Color


def test_a_strict_pydantic_model_reads_the_answer_as_json():
    answer = '{"when": "2024-01-02", "id": "12345678-1234-5678-1234-567812345678", "color": "red"}'
    parsed = _generate(Native(answer), "hi", response_format=Strict).parsed
    assert (parsed.when, parsed.color) == (datetime.date(2024, 1, 2), Color.RED)


def test_lone_surrogates_in_an_emulated_call_become_replacement_characters():
    model = ScriptedModel(['{"tool_calls": [{"name": "f", "arguments": {"x": 1, "note": "\\ud800"}}]}'])
    [call] = _generate(model, "hi", tools=[NUMBER_TOOL]).tool_calls
    assert json.loads(call.arguments) == {"x": 1, "note": "\ufffd"}
    assert _generate(Native('{"x": "\\udfff"}'), "hi", response_format=_format({})).parsed == {"x": "\ufffd"}


def test_tool_parameters_with_their_own_defs_work_when_emulated():
    model = ScriptedModel(['{"tool_calls": [{"name": "g", "arguments": {"a": {"n": 1}}}]}'])
    [call] = _generate(model, "hi", tools=[NESTED_TOOL]).tool_calls
    assert json.loads(call.arguments) == {"a": {"n": 1}}
    bad = ScriptedModel(['{"tool_calls": [{"name": "g", "arguments": {"a": {"n": "one"}}}]}'] * 2)
    with pytest.raises(SchemaError, match="tool call 'g' do not follow its schema: a/n: a string of length 3 is not"):
        _generate(bad, "hi", tools=[NESTED_TOOL])


def test_the_tool_call_grammar_resolves_each_tools_defs():
    import jsonschema

    from byom_sdk._structured import tool_schema

    schema = tool_schema([NUMBER_TOOL, NESTED_TOOL])
    jsonschema.Draft202012Validator(schema).validate({"tool_calls": [{"name": "g", "arguments": {"a": {"n": 1}}}]})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({"tool_calls": [{"name": "g", "arguments": {"a": {}}}]})
    # A property may be called "default": its schema is still a schema, its $ref still rebased.
    odd = {
        "name": "h",
        "parameters": {"properties": {"default": {"$ref": "#/$defs/N"}}, "$defs": {"N": {"type": "integer"}}},
    }
    validator = jsonschema.Draft202012Validator(tool_schema([NUMBER_TOOL, {"type": "function", "function": odd}]))
    assert validator.is_valid({"tool_calls": [{"name": "h", "arguments": {"default": 1}}]})
    assert not validator.is_valid({"tool_calls": [{"name": "h", "arguments": {"default": "one"}}]})


def test_history_calls_whose_arguments_are_not_json_go_as_text():
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [{"id": "c", "name": "f", "arguments": "x=1"}]},
        {"role": "tool", "tool_call_id": "c", "content": "done"},
    ]
    model = ScriptedModel(["ok"])
    assert _generate(model, history, tools=[NUMBER_TOOL]).text == "ok"
    assert '"x=1"' in model.requests[0].as_messages()[2].content


@pytest.mark.parametrize(
    ("call", "choice", "message"),
    [
        (ToolCall(id="1", name="f", arguments='{"x": "bad"}'), "auto", "x: a string of length 3 is not of type"),
        (ToolCall(id="1", name="f", arguments='{"x": 1}'), {"type": "function", "function": {"name": "g"}}, "'g'"),
    ],
    ids=["invalid-arguments", "another-tool-than-named"],
)
def test_a_stream_never_hands_over_a_call_it_would_refuse(call, choice, message):
    with Client(models={"m": Native(calls=(call,))}, trust="off") as client:
        model = client.model("m")
        with pytest.raises(SchemaError, match="do not follow its schema" if choice == "auto" else message):
            _generate(Native(calls=(call,)), "hi", tools=[NUMBER_TOOL, NESTED_TOOL], tool_choice=choice)
        seen = []
        with pytest.raises(SchemaError, match=message):
            for event in model.stream("hi", tools=[NUMBER_TOOL, NESTED_TOOL], tool_choice=choice):
                seen.append(event)

        async def run():
            async for event in model.astream("hi", tools=[NUMBER_TOOL, NESTED_TOOL], tool_choice=choice):
                seen.append(event)

        with pytest.raises(SchemaError, match=message):
            asyncio.run(run())
    assert not [e for e in seen if isinstance(e, ToolCallEvent)]


RECURSIVE = {
    "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
    "$ref": "#/$defs/node",
}


def test_a_deep_answer_to_a_recursive_schema_is_the_answers_fault():
    shallow = '{"next": ' * 20 + "{}" + "}" * 20
    assert _generate(Native(shallow), "hi", response_format=_format(RECURSIVE)).parsed["next"]["next"]
    deep = '{"next": ' * 600 + "{}" + "}" * 600
    with pytest.raises(SchemaError, match="nested too deeply to validate"):
        _generate(Native(deep), "hi", response_format=_format(RECURSIVE))


def test_a_ref_cycle_is_the_schemas_fault_and_named():
    with pytest.raises(BadRequest, match=r"tools\.0\.parameters cannot be used") as caught:
        _generate(Native(calls=(ToolCall(id="1", name="f", arguments="{}"),)), "hi", tools=[
            {"type": "function", "function": {"name": "f", "parameters": {"$ref": "#"}}}
        ])  # fmt: skip
    assert caught.value.details["field"] == "tools.0.parameters"


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"$ref": "#/$defs/missing"}, "$ref '#/$defs/missing' points to nothing"),
        ({"properties": {"a": {"$ref": "#/$defs/B"}}, "$defs": {"A": {}}}, "$ref '#/$defs/B' points to nothing"),
        ({"type": "number", "maximum": float("nan")}, "not JSON"),
        ({"type": "object", "default": datetime.date(2020, 1, 1)}, "not JSON"),
    ],
    ids=["ref-to-nowhere", "nested-ref-to-nowhere", "nan-bound", "non-json-default"],
)
def test_a_schema_that_cannot_be_checked_is_refused_before_the_call(schema, fragment):
    model = ScriptedModel(["{}"])
    with pytest.raises(BadRequest, match=re.escape(fragment)) as caught:
        _generate(model, "hi", response_format=_format(schema))
    assert caught.value.details["field"] == "response_format" and model.requests == []


def test_a_schema_error_names_the_path_and_not_the_value():
    secret = "ann@example.com"
    schema = _format({"type": "object", "properties": {"age": {"type": "integer"}}})
    with pytest.raises(SchemaError) as caught:
        _generate(Native(json.dumps({"age": secret})), "hi", response_format=schema)
    error = caught.value
    assert "age: a string of length 15 is not of type 'integer'" in str(error)
    assert secret not in str(error) and secret not in " ".join(error.details["errors"])
    assert secret in error.details["raw_text"]  # as documented: the answer itself is kept there


def test_an_answer_of_unclosed_arrays_is_read_in_linear_time():
    from byom_sdk._structured import parse_json

    text = ("[" + "0," * 500) * 800  # 800 kB; retrying every opener took seconds
    started = time.perf_counter()
    with pytest.raises(ValueError, match="no JSON value"):
        parse_json(text)
    assert time.perf_counter() - started < 2.0
    assert parse_json('Sure: [1, 2, oops] then {"a": 1}') == {"a": 1}  # prose still searched


def test_a_huge_invalid_answer_reports_its_first_problems_quickly():
    answer = json.dumps(list(range(200_000)))
    started = time.perf_counter()
    with pytest.raises(SchemaError, match=r"\(and 49\+ more\)") as caught:
        _generate(Native(answer), "hi", response_format=_format({"type": "array", "items": {"type": "string"}}))
    assert len(caught.value.details["errors"]) == 50 and time.perf_counter() - started < 2.0
