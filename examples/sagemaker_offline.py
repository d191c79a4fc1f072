"""Talk to a SageMaker endpoint offline: a local SageMaker Runtime server on 127.0.0.1
answers in the TGI format (event-stream framed streams included), and the real boto3
client talks to it through byom_sdk.Client.

    .venv/bin/python examples/sagemaker_offline.py
"""

from byom_sagemaker.testing import LocalSageMakerServer

import byom_sdk
from byom_sdk.testing import ScriptedModel

model = ScriptedModel(["Ticket 4711: the printer on floor 3 is out of toner."])

with LocalSageMakerServer(region="eu-west-1") as server:
    server.add_endpoint("support-llm", "tgi", model, inference_components={"support-ic": model})
    server.add_endpoint("support-chat", "openai", model)
    models = {
        "bot": server.model_config("support-llm", inference_component="support-ic"),
        "chat": server.model_config("support-chat"),
    }
    # allow_loopback: the local server listens on 127.0.0.1, a path the policy must allow.
    with byom_sdk.Client(models=models, policy={"audit": {"sink": "memory"}, "allow_loopback": True}) as client:
        bot = client.model("bot")
        boundary = bot.info.boundary
        print("boundary:", boundary.provider, boundary.region, boundary.endpoint, boundary.network_path)
        print("generate:", bot.generate("Summarise ticket 4711", max_tokens=32).text)
        print("stream:  ", end="")
        for event in client.model("chat").stream([{"role": "user", "content": "Summarise 4711"}]):
            if isinstance(event, byom_sdk.TextDelta):
                print(event.text, end="", flush=True)
        print()

        server.inject("throttle", times=2)  # two ThrottlingExceptions, then success: the core retries
        reply = bot.generate("Summarise ticket 4711")
        print(f"after 2 injected throttles: {reply.text!r} ({len(server.requests_for('support-llm'))} requests)")

        server.inject("delay", seconds=1.0)  # a read timeout is not retried: the model may still run
        slow = byom_sdk.Client(
            models={"bot": server.model_config("support-llm", inference_component="support-ic", read_timeout=0.2)},
            policy={"audit": {"sink": "memory"}, "allow_loopback": True},
        )
        try:
            slow.model("bot").generate("Summarise ticket 4711")
        except byom_sdk.Timeout as exc:
            print(f"read timeout -> {type(exc).__name__} after {exc.attempts} attempt")
        finally:
            slow.close()

        sent = server.requests_for("support-llm")[0]
        print("inference component header:", sent.header("X-Amzn-SageMaker-Inference-Component"))
