"""Tools and structured output, the same code for every provider.

1. A SageMaker endpoint on a local runtime server (real boto3, real wire protocol) whose
   container is TGI: the schema travels as TGI's grammar, the tools as a grammar for a call.
   The answers come back as a pydantic object (``reply.parsed``) and as tool calls; the tool
   result goes back in the history, and the model concludes.
2. The local SmolLM2 (byom-onnx), decoding under a grammar: the same calls, a real model.
"""

from __future__ import annotations

import json

from byom_sagemaker.testing import LocalSageMakerServer
from pydantic import BaseModel, Field

import byom_sdk
from byom_sdk.testing import ScriptedModel


class Ticket(BaseModel):
    title: str
    priority: int = Field(ge=1, le=5)
    tags: list[str]


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current temperature in a city, in Celsius",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

# The container's answers: a ticket, a tool call, then the conclusion.
REPLIES = [
    '{"title": "Printer on floor 3 is on fire", "priority": 1, "tags": ["hardware", "safety"]}',
    json.dumps({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}),
    "It is 4 degrees in Oslo: bring a coat.",
]


def main() -> None:
    with LocalSageMakerServer(region="eu-west-1") as server:
        server.add_endpoint("support", "tgi", ScriptedModel(REPLIES))
        policy = {"allow_loopback": True, "audit": {"sink": "memory"}}
        with byom_sdk.Client(models={"bot": server.model_config("support")}, policy=policy) as client:
            bot = client.model("bot")
            print("capabilities:", bot.info.capabilities.structured_output, "/", bot.info.capabilities.tools_mode)

            ticket = bot.generate("File a ticket: the printer on floor 3 is on fire", response_format=Ticket).parsed
            print("parsed:", repr(ticket))
            print("grammar sent:", json.dumps(server.requests_for("support")[-1].json["parameters"]["grammar"])[:80])

            question = [{"role": "user", "content": "Should I bring a coat to Oslo?"}]
            [call] = bot.generate(question, tools=[WEATHER]).tool_calls
            print("tool call:", call.name, call.arguments)
            history = [
                *question,
                {"role": "assistant", "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"celsius": 4})},
            ]
            print("answer:", bot.generate(history, tools=[WEATHER]).text)

    local_model()


def local_model() -> None:
    from byom_onnx import default_models

    chat = {"provider": "onnx", "path": str(default_models().chat_source), "temperature": 0.0}
    with byom_sdk.Client(models={"chat": chat}, policy={"audit": {"sink": "memory"}}) as client:
        smol = client.model("chat")
        print("local capabilities:", smol.info.capabilities.structured_output, "/", smol.info.capabilities.tools_mode)
        ticket = smol.generate("File a ticket: the printer on floor 3 is on fire", response_format=Ticket).parsed
        print("local parsed:", repr(ticket))
        question = [{"role": "user", "content": "What is the weather in Oslo?"}]
        [call] = smol.generate(question, tools=[WEATHER], tool_choice="required").tool_calls
        print("local tool call:", call.name, call.arguments)
        history = [
            *question,
            {"role": "assistant", "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"celsius": 4})},
        ]
        # tool_choice="none": the answer is text, not another call (a 135M model would repeat it).
        print("local answer:", smol.generate(history, tools=[WEATHER], tool_choice="none", max_tokens=40).text)


if __name__ == "__main__":
    main()
