"""A tool-call round trip against an OpenAI-style server (native tools: the request carries
``tools``, the answer ``tool_calls``, streamed as fragments), with canary PII in the tool
arguments and results kept out of what the server receives."""

from __future__ import annotations

import json

import pytest
from byom_openai_compat.testing import OpenAICompatServer

import byom_sdk
from byom_sdk import GenerateResponse, Provider, ToolCall, ToolCallEvent, Usage
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust.testing import CANARIES, assert_no_canaries

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class ToolUser(Provider):
    """Calls get_weather when offered tools and no tool result is in yet, then answers."""

    info = ScriptedModel().info.model_copy(
        update={"capabilities": ScriptedModel().info.capabilities.model_copy(update={"tools": True})}
    )

    def __init__(self) -> None:
        self.seen = []

    def handle_generate(self, request):
        self.seen.append(request)
        messages = request.as_messages()
        if request.tools and messages[-1].role != "tool":
            city = "Oslo" if "Oslo" in messages[-1].content else "Bergen"
            call = ToolCall(id="call_1", name="get_weather", arguments=json.dumps({"city": city}))
            return GenerateResponse(
                text="", finish_reason="tool_calls", model="t", tool_calls=(call,),
                usage=Usage(input_tokens=3, output_tokens=5, source="server"),
            )  # fmt: skip
        return GenerateResponse(
            text=f"Result: {messages[-1].content}",
            finish_reason="stop",
            model="t",
            usage=Usage(input_tokens=3, output_tokens=5, source="server"),
        )

    def handle_stream(self, request):
        reply = self.handle_generate(request)
        for call in reply.tool_calls:
            yield ToolCallEvent(tool_call=call)
        if reply.text:
            yield byom_sdk.TextDelta(text=reply.text)
        yield byom_sdk.FinishEvent(finish_reason=reply.finish_reason, usage=reply.usage)


@pytest.fixture
def server():
    backing = ToolUser()
    with OpenAICompatServer(model=backing) as srv:
        srv.backing = backing
        yield srv


def _client(server):
    config = {"provider": "openai-compat", "base_url": server.base_url, "model": "t", "tools": True}
    return byom_sdk.Client(models={"m": config}, policy={"allow_loopback": True, "audit": {"sink": "memory"}})


@pytest.mark.parametrize("streaming", [False, True])
def test_tool_round_trip_on_an_openai_style_server(server, streaming):
    with _client(server) as client:
        model = client.model("m")
        ask = [{"role": "user", "content": "Weather in Oslo?"}]
        if streaming:
            events = list(model.stream(ask, tools=[WEATHER]))
            calls = [e.tool_call for e in events if isinstance(e, ToolCallEvent)]
            assert events[-1].finish_reason == "tool_calls"
        else:
            calls = list(model.generate(ask, tools=[WEATHER]).tool_calls)
        [call] = calls
        assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
        history = [
            *ask,
            {"role": "assistant", "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "4 degrees"},
        ]
        final = model.generate(history, tools=[WEATHER])
    assert final.text == "Result: 4 degrees"
    sent = server.backing.seen[-1].as_messages()
    assert sent[-2].tool_calls[0].name == "get_weather" and sent[-1].role == "tool"  # native: no emulation


def test_canary_pii_in_tool_arguments_never_reaches_the_server(server):
    email, card = CANARIES["EMAIL"], CANARIES["CREDIT_CARD"]
    call = {"id": "c1", "name": "refund", "arguments": json.dumps({"email": email, "card": card})}
    history = [
        {"role": "user", "content": f"Refund {email}"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": f"refunded {card} for {email}"},
    ]
    with _client(server) as client:
        reply = client.model("m").generate(history, tools=[WEATHER], metadata={"conversation_id": "c"})
    assert_no_canaries([r.model_dump_json() for r in server.backing.seen], where="what the server received")
    assert email in reply.text and card in reply.text  # the answer quotes them back, restored
