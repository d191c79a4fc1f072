"""Talk to a Vertex AI endpoint model offline: a local Vertex prediction server (gRPC and
REST on 127.0.0.1) answers in the Model Garden vLLM format, and the real GAPIC client
talks to it through byom_sdk.Client.

    .venv/bin/python examples/vertex_offline.py
"""

from byom_vertex.testing import LocalVertexServer

import byom_sdk
from byom_sdk.testing import ScriptedModel

model = ScriptedModel(["Ticket 4711: the printer on floor 3 is out of toner."])

with LocalVertexServer(model, codec="vllm") as server:
    models = {
        "bot-grpc": server.model_config(transport="grpc"),
        "bot-rest": server.model_config(transport="rest"),
    }
    # allow_loopback: the local server listens on 127.0.0.1, a path the policy must allow.
    with byom_sdk.Client(models=models, policy={"audit": {"sink": "memory"}, "allow_loopback": True}) as client:
        bot = client.model("bot-grpc")
        print("boundary:", bot.info.boundary.provider, bot.info.boundary.region, bot.info.boundary.endpoint)
        print("generate:", bot.generate("Summarise ticket 4711", max_tokens=32).text)
        print("stream:  ", end="")
        for event in client.model("bot-rest").stream([{"role": "user", "content": "Summarise 4711"}]):
            if isinstance(event, byom_sdk.TextDelta):
                print(event.text, end="", flush=True)
        print()

        server.inject("throttled", times=2)  # two 429s, then success: the core retry policy retries
        reply = bot.generate("Summarise ticket 4711")
        print(f"after 2 injected 429s: {reply.text!r} ({server.count('predict')} predict requests in all)")

        server.inject("deadline", times=5)  # a deadline is not retried: the model may still be running
        try:
            bot.generate("Summarise ticket 4711")
        except byom_sdk.Timeout as exc:
            print(f"deadline -> {type(exc).__name__} after {exc.attempts} attempt: {exc}")
