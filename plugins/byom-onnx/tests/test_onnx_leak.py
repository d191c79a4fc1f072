"""Leak test: canary PII never reaches the in-process ONNX model nor the audit file."""

from __future__ import annotations

from byom_sdk import Client, GenerateRequest, TextDelta
from byom_sdk.trust.testing import assert_no_canaries, canary_messages, find_canaries


def test_canaries_never_reach_the_onnx_model(smollm2, tmp_path, monkeypatch):
    """What the real SmolLM2 session is asked to encode (the request reaching the plugin)
    holds no canary, nor does the audit file; the masked values become placeholders."""
    seen: list[GenerateRequest] = []
    model_class = type(smollm2)
    original_prepare = model_class._prepare

    def recording_prepare(self, seq):
        # Every generation, unary or streamed, is tokenised here (on the engine's thread).
        seen.append(seq.request)
        return original_prepare(self, seq)

    monkeypatch.setattr(model_class, "_prepare", recording_prepare)
    audit = tmp_path / "audit.sqlite"
    meta = {"conversation_id": "leak-test"}
    client = Client(models={"local": smollm2}, policy={"audit": {"path": str(audit)}})
    local = client.model("local")
    reply = local.generate(canary_messages(), max_tokens=8, temperature=0.0, metadata=meta)
    streamed = [
        e
        for e in local.stream(canary_messages(), max_tokens=8, temperature=0.0, metadata=meta)
        if isinstance(e, TextDelta)
    ]
    client.trust.close()  # flush the audit sink; the session-scoped model stays open for other tests
    assert len(seen) == 2 and reply.text is not None and streamed is not None
    assert_no_canaries([r.model_dump_json() for r in seen], where="the ONNX model's inputs")
    assert_no_canaries([p.read_bytes() for p in tmp_path.glob("audit.sqlite*")], where="the audit files")
    sent = seen[0].model_dump_json()
    assert "<EMAIL_" in sent and "<CREDIT_CARD_" in sent and not find_canaries(sent)
