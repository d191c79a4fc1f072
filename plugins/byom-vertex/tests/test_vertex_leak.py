"""Leak test end to end: canary PII never reaches the Vertex endpoint nor the audit file,
while the application gets every value back (the container echoes what it received)."""

from __future__ import annotations

import json

import pytest
from byom_vertex.testing import LocalVertexServer

from byom_sdk import Client, TextDelta
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust.testing import (
    assert_all_canaries,
    assert_no_canaries,
    canary_messages,
    canary_text,
    echo_all,
)


@pytest.mark.parametrize(
    ("codec", "transport", "chat"),
    [("openai", "grpc", True), ("openai", "rest", True), ("vllm", "grpc", False), ("vllm", "rest", False)],
)
def test_canaries_never_cross_the_boundary(tmp_path, codec, transport, chat):
    """Through the real GAPIC clients, generate and stream: the server's request bodies, the
    container model's inputs and the audit files hold no canary; the app sees them all."""
    container = ScriptedModel(echo_all)
    audit = tmp_path / "audit.sqlite"
    prompt = canary_messages() if chat else canary_text()
    meta = {"conversation_id": "leak-test", "tenant": "acme"}
    with LocalVertexServer(container, codec=codec) as server:
        config = server.model_config(transport=transport)
        with Client(models={"bot": config}, policy={"audit": {"path": str(audit)}, "allow_loopback": True}) as client:
            bot = client.model("bot")
            reply = bot.generate(prompt, metadata=meta)
            streamed = "".join(e.text for e in bot.stream(prompt, metadata=meta) if isinstance(e, TextDelta))
        received = [
            r.body if isinstance(r.body, (bytes, str)) else json.dumps(r.body, default=str) for r in server.requests
        ]
    assert len(received) >= 2
    assert_no_canaries(received, where="the Vertex endpoint's request bodies")
    assert_no_canaries([r.model_dump_json() for r in container.requests], where="the container model's inputs")
    assert_no_canaries([p.read_bytes() for p in tmp_path.glob("audit.sqlite*")], where="the audit files")
    assert_all_canaries(reply.text, where="the reply the app got")
    assert_all_canaries(streamed, where="the streamed reply the app got")
