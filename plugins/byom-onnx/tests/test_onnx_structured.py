"""Grammar-constrained decoding on local SmolLM2: schema'd answers and tool calls that are
valid by construction (llguidance masks every token the grammar forbids), over sync, async
and streaming calls, with the trust boundary in front."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jsonschema
import pytest

from byom_sdk import BadRequest, Client, GenerateRequest, ToolCallEvent
from byom_sdk.trust import calls_of

pytest.importorskip("llguidance")

PEOPLE = [
    ("Anna", 31, "Berlin"),
    ("Luis", 47, "Madrid"),
    ("Chloé", 25, "Paris"),
    ("Marco", 62, "Rome"),
    ("Sofia", 19, "Lisbon"),
]
CITY = {"enum": ["Berlin", "Madrid", "Paris", "Rome", "Lisbon", "other"]}
SCHEMAS: dict[str, dict[str, Any]] = {
    "person": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 24},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "city": CITY,
        },
        "required": ["name", "age", "city"],
    },
    "nested": {
        "type": "object",
        "properties": {
            "person": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 24}, "adult": {"type": "boolean"}},
                "required": ["name", "adult"],
            },
            "home": {
                "type": "object",
                "properties": {"city": CITY, "country_code": {"type": "string", "pattern": "^[A-Z]{2}$"}},
                "required": ["city", "country_code"],
            },
        },
        "required": ["person", "home"],
    },
    "ticket": {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 40},
            "priority": {"type": "integer", "minimum": 1, "maximum": 5},
            "tags": {"type": "array", "items": {"enum": ["billing", "login", "travel", "other"]}, "maxItems": 3},
        },
        "required": ["title", "priority", "tags"],
    },
    "score": {
        "type": "object",
        "properties": {
            "sentiment": {"enum": ["positive", "neutral", "negative"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "keywords": {"type": "array", "items": {"type": "string", "maxLength": 16}, "minItems": 1, "maxItems": 3},
        },
        "required": ["sentiment", "confidence", "keywords"],
    },
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 30}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
        },
    },
}


@pytest.fixture(scope="module")
def client(smollm2_folder, monkeypatch_session):
    with Client(
        # A generous per-call deadline: the hundred calls below queue on a shared 2-core CI box.
        models={"chat": {"provider": "onnx", "path": str(smollm2_folder), "threads": 2, "timeout": 900}},
        policy={"audit": {"sink": "memory"}},
    ) as made:
        yield made


def _prompts() -> list[tuple[str, str]]:
    """100 (schema name, prompt) pairs: 25 per schema."""
    out = []
    for i in range(25):
        name, age, city = PEOPLE[i % len(PEOPLE)]
        out.append(("person", f"{name} is {age + i // 5} years old and lives in {city}. Extract the person."))
        out.append(("nested", f"{name}, aged {age + i // 5}, moved to {city}. Describe the person and their home."))
        out.append(("ticket", f"Ticket {i}: {name} cannot log in since the trip to {city}. File it."))
        out.append(("score", f"Review {i}: the hotel in {city} was {'great' if i % 2 else 'awful'}. Score it."))
    return out


def test_a_hundred_schemad_requests_give_a_hundred_valid_objects(client):
    model = client.model("chat")

    async def run_all() -> list[Any]:
        # Eight in flight: the engine batches them; all hundred at once would only queue.
        gate = asyncio.Semaphore(8)

        async def one(name: str, prompt: str) -> Any:
            async with gate:
                return await model.agenerate(prompt, response_format=SCHEMAS[name], max_tokens=120)

        return await asyncio.gather(*(one(name, prompt) for name, prompt in _prompts()))

    replies = asyncio.run(run_all())
    assert len(replies) == 100
    for (name, prompt), reply in zip(_prompts(), replies, strict=True):
        assert reply.finish_reason == "stop", (prompt, reply.text)
        jsonschema.validate(reply.parsed, SCHEMAS[name])  # raises on any invalid object
        assert reply.parsed == json.loads(reply.text)
    # every one audited as an ordinary call
    assert len(calls_of(client.trust.sink.records)) >= 100


def test_a_pydantic_class_gives_a_parsed_object_sync_and_streamed(client):
    from typing import Literal

    from pydantic import BaseModel, Field

    class Person(BaseModel):
        name: str = Field(max_length=24)
        age: int = Field(ge=0, le=120)
        city: Literal["Berlin", "Madrid", "Paris", "other"]

    model = client.model("chat")
    prompt = "Anna is 31 and lives in Berlin. Extract the person."
    reply = model.generate(prompt, response_format=Person, temperature=0)
    assert isinstance(reply.parsed, Person) and reply.parsed.city in ("Berlin", "Madrid", "Paris", "other")
    streamed = "".join(
        getattr(event, "text", "") for event in model.stream(prompt, response_format=Person, temperature=0)
    )
    assert Person.model_validate_json(streamed) == reply.parsed  # greedy: the same answer


def test_a_tool_round_trip_on_smollm2(client):
    model = client.model("chat")
    first = model.generate("What's the weather in Lisbon?", tools=[WEATHER], tool_choice="required")
    assert first.finish_reason == "tool_calls" and first.text == ""
    [call] = first.tool_calls
    assert call.name == "get_weather"
    arguments = json.loads(call.arguments)
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])
    history = [
        {"role": "user", "content": "What's the weather in Lisbon?"},
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "18 degrees and sunny"},
    ]
    final = model.generate(history, tools=[WEATHER], tool_choice="none", max_tokens=60)
    assert final.finish_reason in ("stop", "length") and final.text.strip() and not final.tool_calls
    assert not final.text.lstrip().startswith("{")  # an answer, not another call


def test_streamed_tool_calls_arrive_as_tool_call_events(client):
    events = list(client.model("chat").stream("Weather in Paris, in celsius?", tools=[WEATHER], tool_choice="required"))
    calls = [e.tool_call for e in events if isinstance(e, ToolCallEvent)]
    assert [c.name for c in calls] == ["get_weather"] and events[-1].finish_reason == "tool_calls"
    jsonschema.validate(json.loads(calls[0].arguments), WEATHER["function"]["parameters"])


def test_auto_tool_choice_allows_a_call_or_prose(smollm2_folder, monkeypatch_session):
    from byom_onnx import OnnxModel

    model = OnnxModel(smollm2_folder, threads=2)
    try:
        request = GenerateRequest(
            messages=[{"role": "user", "content": "What's the weather in Rome?"}], tools=(WEATHER,), max_tokens=60
        )
        text = "".join(getattr(e, "text", "") for e in model.handle_stream(request))
        if text.startswith("{"):
            jsonschema.validate(json.loads(text), {"type": "object", "required": ["tool_calls"]})
        else:
            assert text.strip()
    finally:
        model.close()


def test_a_schema_the_grammar_cannot_hold_is_a_bad_request_naming_the_field(client):
    with pytest.raises(BadRequest, match="response_format"):
        client.model("chat").generate("x", response_format={"type": "object", "properties": {"a": {"type": "nope"}}})


def test_canary_pii_in_tool_arguments_and_results_is_masked_before_the_model(smollm2_folder, monkeypatch_session):
    from byom_sdk.trust.testing import CANARIES, assert_no_canaries

    card, email = CANARIES["CREDIT_CARD"], CANARIES["EMAIL"]
    seen: list[str] = []
    with Client(
        models={"chat": {"provider": "onnx", "path": str(smollm2_folder), "threads": 2}},
        policy={"audit": {"sink": "memory"}},
    ) as local:
        provider = local.model("chat").provider
        original = provider._prepare

        def spy(seq: Any) -> None:  # what the local model is given, after the trust steps
            seen.append(seq.request.model_dump_json())
            original(seq)

        provider._prepare = spy
        arguments = json.dumps({"city": "Rome", "unit": "celsius", "card": card})
        history = [
            {"role": "user", "content": f"Forecast for {email}, please"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": arguments}]},
            {"role": "tool", "tool_call_id": "c1", "content": f"sent to {email}, billed to {card}"},
        ]
        local.model("chat").generate(history, tools=[WEATHER], max_tokens=40)
    assert seen
    assert_no_canaries(seen, where="what the local model received")
