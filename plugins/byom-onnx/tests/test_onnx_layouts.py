"""Layouts B, C and D built by the tests, checked against numpy; detection errors."""

from __future__ import annotations

import numpy as np
import pytest
from byom_onnx_refs import bert_sentence_embedding
from byom_onnx_tiny import optimum_reference, write_tiny_bert, write_tiny_optimum

from byom_sdk import ConfigError

IDS = [1, 30, 80, 200, 12, 100, 2, 5, 60]


def forced(model, ids, prefill):
    steps = model.decoder.generate_logits(list(ids[:prefill]))
    out = [next(steps)]
    for token in ids[prefill:]:
        out.append(steps.send(int(token)))
    steps.close()
    return np.array(out)


@pytest.mark.parametrize("merged", [False, True], ids=["B-optimum", "C-merged"])
def test_growing_cache_layouts_match_reference(tmp_path, merged):
    from byom_onnx import OnnxModel

    weights = write_tiny_optimum(tmp_path, merged=merged)
    model = OnnxModel(tmp_path, threads=1, device="cpu")
    assert model.layout_kind == ("C" if merged else "B")
    assert model.decoder.graph.style == ("merged" if merged else "optimum")
    assert (model.decoder.graph.layers, model.decoder.graph.kv_heads, model.decoder.graph.head_dim) == (1, 1, 32)
    ref = optimum_reference(weights, IDS)
    np.testing.assert_allclose(forced(model, IDS, 3), ref[2:], atol=1e-4)
    # Generation through the contract: greedy tokens equal the reference's argmax chain.
    reply = model.generate("the cat", temperature=0, max_tokens=5, extra={"ignore_eos": True})
    ids = model.tokenizer.encode("the cat")
    chain = list(ids)
    for _ in range(5):
        chain.append(int(np.argmax(optimum_reference(weights, chain)[-1])))
    assert reply.text == model.tokenizer.decode(chain[len(ids) :], skip_special_tokens=True)
    assert reply.usage.input_tokens == len(ids) and reply.usage.source == "tokenizer"


def test_genai_layout_a_from_converted_folder(tiny_gguf, tmp_path):
    from byom_onnx import OnnxModel, convert_gguf

    folder = convert_gguf(tiny_gguf, tmp_path / "a", progress=False)
    model = OnnxModel(folder, threads=1, device="cpu")
    assert model.layout_kind == "A" and model.decoder.graph.style == "gqa"
    assert model.info.capabilities.generate and not model.info.capabilities.embed


def test_genai_layout_with_full_sequence_logits(tiny_gguf, tmp_path):
    """genai's own builder emits (B, S, V) logits; the shared-KV loop must handle both shapes."""
    import onnx
    from byom_onnx import OnnxModel, convert_gguf
    from byom_onnx_refs import llama_logits, load_gguf_weights

    folder = convert_gguf(tiny_gguf, tmp_path / "full", progress=False)
    model = onnx.load(str(folder / "model.onnx"))
    for node in model.graph.node:
        if node.op_type == "Gather" and node.attribute and node.attribute[0].i == 1:  # last-position gather
            node.op_type, node.input[:] = "Identity", [node.input[0]]
            del node.attribute[:]
    logits = next(o for o in model.graph.output if o.name == "logits")
    logits.type.tensor_type.shape.dim[1].dim_param = "sequence_length"
    onnx.save(model, str(folder / "model.onnx"))
    loaded = OnnxModel(folder, threads=1, device="cpu", exact=True)
    assert not loaded.decoder.graph.logits_last_only
    ids = [1, 30, 80, 260, 262, 100, 2, 5]
    hp, weights = load_gguf_weights(tiny_gguf)
    np.testing.assert_allclose(forced(loaded, ids, 3), llama_logits(hp, weights, ids)[2:], atol=1e-3)


def test_sentence_transformers_layout_d_matches_numpy(tmp_path):
    from byom_onnx import OnnxModel

    folder = write_tiny_bert(tmp_path / "bert")
    model = OnnxModel(folder, threads=1, device="cpu")
    assert model.layout_kind == "D" and model.info.capabilities.embed
    assert model.info.embedding_dimension == 32 and model.info.embedding_normalized
    texts = ["the cat sat on the mat .", "a dog", "stock fell ."]
    got = np.array(model.embed(texts).vectors)
    tok = model.tokenizer.backend
    ref = np.array([bert_sentence_embedding(folder, tok.encode(t).ids) for t in texts])
    np.testing.assert_allclose(got, ref, atol=1e-4)
    np.testing.assert_allclose(got @ got.T, ref @ ref.T, atol=1e-4)
    # The converted folder is an ordinary Optimum feature-extraction export: load it directly.
    direct = OnnxModel(model.layout.folder, threads=1, device="cpu")
    np.testing.assert_allclose(np.array(direct.embed(texts).vectors), got, atol=1e-6)


def test_missing_path_is_one_clear_error(tmp_path):
    from byom_onnx import OnnxModel

    with pytest.raises(ConfigError, match="model path not found") as info:
        OnnxModel(tmp_path / "nope.gguf")
    assert "nope.gguf" in str(info.value)


def test_wrong_folder_is_one_clear_error(tmp_path):
    from byom_onnx import OnnxModel

    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="no model found in") as info:
        OnnxModel(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_wrong_file_kind_is_one_clear_error(tmp_path):
    from byom_onnx import OnnxModel

    other = tmp_path / "weights.bin"
    other.write_bytes(b"\0" * 64)
    with pytest.raises(ConfigError, match=r"neither a \.gguf nor a \.onnx") as info:
        OnnxModel(other)
    assert str(other) in str(info.value)


def test_corrupt_onnx_is_one_clear_error(tmp_path):
    from byom_onnx import OnnxModel

    (tmp_path / "model.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(ConfigError) as info:
        OnnxModel(tmp_path)
    assert "model.onnx" in str(info.value)


def test_cuda_without_fallback_refuses_in_one_line(tiny_gguf):
    from byom_onnx import OnnxModel, cuda_status

    usable, reason = cuda_status()
    if usable:
        pytest.skip("a usable CUDA device is present; the refusal path cannot be exercised")
    with pytest.raises(ConfigError, match="device 'cuda' requested but") as info:
        OnnxModel(tiny_gguf, device="cuda", allow_cpu_fallback=False)
    assert "\n" not in str(info.value) and reason in str(info.value)
