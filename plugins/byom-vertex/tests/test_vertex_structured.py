"""Tools and structured output over the real wire (gRPC and REST): the Vertex codecs put
the right fields in what the local Vertex server receives, and answers come back parsed."""

from __future__ import annotations

import json

import pytest
from byom_vertex.testing import LocalVertexServer

import byom_sdk
from byom_sdk.testing import ScriptedModel

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": SCHEMA},
}


def _client(config):
    return byom_sdk.Client(models={"m": config}, policy={"allow_loopback": True, "audit": {"sink": "memory"}})


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_openai_codec_sends_tools_and_response_format_through_raw_predict(transport):
    with LocalVertexServer(ScriptedModel(['{"city": "Oslo"}']), codec="openai") as server:
        with _client(server.model_config(transport=transport)) as client:
            reply = client.model("m").generate("Where?", response_format=SCHEMA, tools=[WEATHER], tool_choice="auto")
        body = server.requests[-1].body
    assert body["tools"] == [WEATHER] and body["tool_choice"] == "auto"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert reply.parsed == {"city": "Oslo"}


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_tgi_codec_sends_a_grammar_in_the_predict_instance(transport):
    call = json.dumps({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]})
    server = LocalVertexServer(ScriptedModel(['{"city": "Oslo"}', call]), codec="tgi")
    with server, _client(server.model_config(transport=transport)) as client:
        assert client.model("m").generate("Where?", response_format=SCHEMA).parsed == {"city": "Oslo"}
        schema_instance = server.requests[-1].body["instances"][0]
        [tool] = client.model("m").generate("Weather in Oslo?", tools=[WEATHER]).tool_calls
        tool_instance = server.requests[-1].body["instances"][0]
    # A prompt goes to TGI's generate route with a grammar; tool use goes to its chat route,
    # with the tools and a system message saying what they are for.
    assert schema_instance["parameters"]["grammar"] == {"type": "json", "value": SCHEMA}
    assert tool_instance["tools"] == [WEATHER] and tool_instance["messages"][0]["role"] == "system"
    assert tool.name == "get_weather" and json.loads(tool.arguments) == {"city": "Oslo"}
