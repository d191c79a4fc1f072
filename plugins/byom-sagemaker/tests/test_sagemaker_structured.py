"""Tools and structured output over the real wire: each codec puts the right fields in
the body the local SageMaker runtime receives (OpenAI: tools / tool_choice /
response_format; TGI: a grammar), and the answers come back parsed."""

from __future__ import annotations

import json

from byom_sdk.testing import ScriptedModel

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_openai_codec_sends_tools_tool_choice_and_response_format(server, make_client):
    server.add_endpoint("chat", "openai", ScriptedModel(['{"city": "Oslo"}']))
    client = make_client({"m": server.model_config("chat", codec="openai")})
    reply = client.model("m").generate("Where?", response_format=SCHEMA, tools=[WEATHER], tool_choice="auto")
    body = server.requests_for("chat")[-1].json
    assert body["tools"] == [WEATHER] and body["tool_choice"] == "auto"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert reply.parsed == {"city": "Oslo"}


def test_tgi_codec_sends_a_grammar_for_a_schema_and_for_tools(server, make_client):
    server.add_endpoint("tgi", "tgi", ScriptedModel(['{"city": "Oslo"}']))
    client = make_client({"m": server.model_config("tgi", codec="tgi")})
    assert client.model("m").generate("Where?", response_format=SCHEMA).parsed == {"city": "Oslo"}
    grammar = server.requests_for("tgi")[-1].json["parameters"]["grammar"]
    assert grammar == {"type": "json", "value": SCHEMA}

    call_json = json.dumps({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]})
    server.add_endpoint("tgi-tools", "tgi", ScriptedModel([call_json]))
    tools = make_client({"m": server.model_config("tgi-tools", codec="tgi")})
    [call] = tools.model("m").generate("Weather in Oslo?", tools=[WEATHER]).tool_calls
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    sent = server.requests_for("tgi-tools")[-1].json
    grammar = sent["parameters"]["grammar"]["value"]
    assert grammar["required"] == ["tool_calls"] and "get_weather" in json.dumps(grammar)
    assert "get_weather" in sent["inputs"]  # the model is told what the tools are for
