"""Leak test end to end: canary PII never reaches the SageMaker endpoint nor the audit file,
while the application gets every value back (the container echoes what it received)."""

from __future__ import annotations

import pytest
from byom_sagemaker.testing import LocalSageMakerServer

from byom_sdk import Client, TextDelta
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust.testing import (
    assert_all_canaries,
    assert_no_canaries,
    canary_messages,
    canary_text,
    echo_all,
)


@pytest.mark.parametrize(("codec", "chat"), [("openai", True), ("tgi", False), ("lmi", False)])
def test_canaries_never_cross_the_boundary(tmp_path, codec, chat):
    """Through the real boto3 client, generate and stream: the server's request bodies, the
    container model's inputs and the audit files hold no canary; the app sees them all."""
    container = ScriptedModel(echo_all)
    audit = tmp_path / "audit.sqlite"
    prompt = canary_messages() if chat else canary_text()
    meta = {"conversation_id": "leak-test", "tenant": "acme"}
    with LocalSageMakerServer(region="eu-west-1") as server:
        server.add_endpoint("ep", codec, container)
        with Client(
            models={"bot": server.model_config("ep")}, policy={"audit": {"path": str(audit)}, "allow_loopback": True}
        ) as client:
            bot = client.model("bot")
            reply = bot.generate(prompt, metadata=meta)
            streamed = "".join(e.text for e in bot.stream(prompt, metadata=meta) if isinstance(e, TextDelta))
        received = [request.body for request in server.requests_for("ep")]
    assert len(received) == 2
    assert_no_canaries(received, where="the SageMaker endpoint's request bodies")
    assert_no_canaries([r.model_dump_json() for r in container.requests], where="the container model's inputs")
    assert_no_canaries([p.read_bytes() for p in tmp_path.glob("audit.sqlite*")], where="the audit files")
    assert_all_canaries(reply.text, where="the reply the app got")
    assert_all_canaries(streamed, where="the streamed reply the app got")
