"""GGUF → ONNX conversion: exact numerics per tensor type, refusals, tokenizer, cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
from byom_onnx_refs import llama_logits, load_gguf_weights, mean_kl
from byom_onnx_tiny import tiny_vocab, write_tiny_gguf

from byom_sdk import ConfigError


def teacher_forced_logits(model, ids, prefill):
    """Prefill ``ids[:prefill]`` then feed the rest one token at a time (exercises the KV cache)."""
    steps = model.decoder.generate_logits(list(ids[:prefill]))
    out = [next(steps)]
    for token in ids[prefill:]:
        out.append(steps.send(int(token)))
    steps.close()
    return np.array(out)


IDS = [1, 30, 80, 260, 262, 100, 2, 5, 60, 61, 62]


@pytest.mark.parametrize(
    ("qtype", "embed_type", "tied"),
    [
        ("Q4_1", "Q8_0", True),
        ("Q4_0", "Q4_0", True),
        ("Q8_0", "Q8_0", False),
        ("F16", "F32", True),
        ("F32", "Q4_1", False),
    ],
)
def test_converted_logits_match_numpy_reference(tmp_path, qtype, embed_type, tied):
    from byom_onnx import OnnxModel

    path = write_tiny_gguf(tmp_path / f"t-{qtype}.gguf", qtype=qtype, embed_type=embed_type, tied=tied, seed=3)
    model = OnnxModel(path, exact=True, threads=1, device="cpu")
    assert model.layout_kind == "E"
    got = teacher_forced_logits(model, IDS, prefill=4)
    hp, weights = load_gguf_weights(path)
    ref = llama_logits(hp, weights, IDS)[3:]
    np.testing.assert_allclose(got, ref, atol=1e-3, rtol=0)
    model.close()


def test_default_accuracy_level_is_close_to_exact(tiny_gguf):
    from byom_onnx import OnnxModel

    model = OnnxModel(tiny_gguf, threads=1, device="cpu")
    hp, weights = load_gguf_weights(tiny_gguf)
    ref = llama_logits(hp, weights, IDS)[3:]
    got = teacher_forced_logits(model, IDS, prefill=4)
    assert np.abs(got - ref).max() > 1e-6  # int8 activations really are in use
    assert mean_kl(ref, got) < 1e-2


def test_converted_folder_files(tiny_gguf, tmp_path):
    from byom_onnx import convert_gguf

    out = convert_gguf(tiny_gguf, tmp_path / "out", progress=False)
    genai = json.loads((out / "genai_config.json").read_text())
    assert genai["model"]["decoder"]["num_hidden_layers"] == 2
    assert genai["model"]["decoder"]["num_key_value_heads"] == 1
    assert genai["search"]["past_present_share_buffer"] is True
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert config["eos_token"] == "<|im_end|>" and "<|im_start|>" in config["chat_template"]
    import onnx

    model = onnx.load(str(out / "model.onnx"), load_external_data=False)
    ops = {n.op_type for n in model.graph.node}
    assert {"GroupQueryAttention", "MatMulNBits", "GatherBlockQuantized", "SkipSimplifiedLayerNormalization"} <= ops
    assert model.ir_version == 10
    gqa = next(n for n in model.graph.node if n.op_type == "GroupQueryAttention")
    assert {a.name: a.i for a in gqa.attribute if a.type == onnx.AttributeProto.INT}["rotary_interleaved"] == 1


def test_tokenizer_from_metadata(tiny_gguf, tmp_path):
    from byom_onnx import convert_gguf
    from tokenizers import Tokenizer

    out = convert_gguf(tiny_gguf, tmp_path / "tok", progress=False)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    tokens, _, _ = tiny_vocab()
    enc = tok.encode("<|im_start|>the the in 42", add_special_tokens=False)
    # smollm pre-tokenizer: digits split one by one; merges applied in rank order
    assert [tokens[i] for i in enc.ids] == ["<|im_start|>", "t", "he", "Ġthe", "Ġ", "in", "Ġ", "4", "2"]
    assert tok.decode(enc.ids, skip_special_tokens=False) == "<|im_start|>the the in 42"


def test_fp16_variant_builds(tiny_gguf, tmp_path):
    import onnx
    from byom_onnx import convert_gguf

    out = convert_gguf(tiny_gguf, tmp_path / "fp16", dtype="float16", progress=False)
    model = onnx.load(str(out / "model.onnx"))
    past = next(i for i in model.graph.input if i.name == "past_key_values.0.key")
    assert past.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    logits = next(o for o in model.graph.output if o.name == "logits")
    assert logits.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_unsupported_quant_type_is_refused_naming_type_and_file(tmp_path):
    from byom_onnx import convert_gguf

    path = write_tiny_gguf(tmp_path / "q5.gguf", qtype="Q5_0")
    with pytest.raises(ConfigError) as info:
        convert_gguf(path, tmp_path / "out", progress=False)
    assert "Q5_0" in str(info.value) and str(path) in str(info.value) and "blk.0.attn_q.weight" in str(info.value)


def test_unsupported_architecture_is_refused(tmp_path):
    from byom_onnx import convert_gguf

    path = write_tiny_gguf(tmp_path / "gpt2.gguf", arch="gpt2")
    with pytest.raises(ConfigError, match=r"architecture 'gpt2' is not supported") as info:
        convert_gguf(path, tmp_path / "out", progress=False)
    assert str(path) in str(info.value)


def test_corrupt_gguf_is_one_clear_error(tmp_path, tiny_gguf):
    from byom_onnx import OnnxModel

    bad = tmp_path / "corrupt.gguf"
    bad.write_bytes(tiny_gguf.read_bytes()[:300])
    with pytest.raises(ConfigError, match="corrupt or truncated GGUF") as info:
        OnnxModel(bad)
    assert str(bad) in str(info.value)


def test_cache_is_reused_and_atomic(tiny_gguf, tmp_path, monkeypatch):
    from byom_onnx import _convert, converted_gguf

    first = converted_gguf(tiny_gguf, cache=tmp_path, progress=False)
    stamp = (first / "model.onnx").stat().st_mtime_ns
    assert converted_gguf(tiny_gguf, cache=tmp_path, progress=False) == first
    assert (first / "model.onnx").stat().st_mtime_ns == stamp
    assert first.name.startswith(_convert.file_sha256(tiny_gguf))

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_convert, "convert_gguf", crash)
    with pytest.raises(RuntimeError):
        converted_gguf(tiny_gguf, cache=tmp_path / "other", progress=False)
    assert not any((tmp_path / "other" / "onnx").iterdir())  # no half-written entry or temp dir


def test_fp16_variant_numerics_on_cpu(tmp_path):
    """The CUDA (fp16) graph is checked here on CPU: onnxruntime has fp16 CPU kernels for its
    operators, so structure and numerics are verified even where no GPU exists."""
    from byom_onnx import OnnxModel, convert_gguf

    path = write_tiny_gguf(tmp_path / "t.gguf", qtype="Q4_1", seed=3)
    model = OnnxModel(convert_gguf(path, tmp_path / "fp16", dtype="float16", progress=False), threads=1, device="cpu")
    assert model.decoder.graph.kv_dtype == "float16"
    hp, weights = load_gguf_weights(path)
    ref = llama_logits(hp, weights, IDS)[3:]
    assert mean_kl(ref, teacher_forced_logits(model, IDS, prefill=4)) < 1e-2


@pytest.mark.parametrize("text", ["the cat", "hello", "the cat sat  that", "café chat", "   spaces", "ééé"])
def test_sentencepiece_tokenizer_matches_llama_cpp_algorithm(tmp_path, text):
    from byom_onnx import convert_gguf
    from byom_onnx_tiny import spm_reference_encode, write_tiny_spm_gguf
    from tokenizers import Tokenizer

    out = convert_gguf(write_tiny_spm_gguf(tmp_path / "spm.gguf"), tmp_path / "spm", progress=False)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    ids = tok.encode(text, add_special_tokens=False).ids
    assert ids == spm_reference_encode(text)
    assert tok.decode(ids) == text


def test_sentencepiece_model_generates(tmp_path):
    from byom_onnx import OnnxModel
    from byom_onnx_tiny import write_tiny_spm_gguf

    model = OnnxModel(write_tiny_spm_gguf(tmp_path / "spm.gguf"), threads=1, device="cpu")
    ids = model.tokenizer.encode("the cat", add_special_tokens=True)
    assert ids[0] == 1  # add_bos_token from the GGUF: <s> first
    reply = model.generate("the cat", temperature=0, max_tokens=4, extra={"ignore_eos": True})
    assert reply.usage.output_tokens == 4


# -- validation of corrupted files -----------------------------------------------------------


def _tensor(path, name):
    from gguf import GGUFReader

    return next(t for t in GGUFReader(str(path)).tensors if t.name == name)


def _overwrite(path, offset, data):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


@pytest.mark.parametrize(
    ("name", "offset", "data", "why"),
    [
        ("blk.1.ffn_up.weight", 20 * 7, np.float16(-0.5).tobytes(), "negative scale"),  # Q4_1 block 7: d
        ("blk.0.attn_v.weight", 20 * 3 + 2, np.float16(np.inf).tobytes(), "NaN/Inf scale"),  # block 3: m
        ("blk.0.attn_q.weight", 20 * 5, np.float16(30000).tobytes(), "impossible scale"),
        ("blk.1.attn_norm.weight", 4 * 9, np.float32(np.nan).tobytes(), "NaN/Inf"),
        ("output_norm.weight", 0, np.float32(3e33).tobytes(), "impossible magnitude"),
        ("token_embd.weight", 34 * 11, np.float16(-1.0).tobytes(), "negative scale"),  # Q8_0 block 11
    ],
)
def test_corrupted_tensor_is_refused_at_conversion_naming_it(tmp_path, tiny_gguf, name, offset, data, why):
    from byom_onnx import convert_gguf, converted_gguf

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(tiny_gguf.read_bytes())
    _overwrite(bad, int(_tensor(bad, name).data_offset) + offset, data)
    with pytest.raises(ConfigError) as info:
        convert_gguf(bad, tmp_path / "out", progress=False)
    message = str(info.value)
    assert f"tensor '{name}' fails validation" in message and why in message and str(bad) in message
    with pytest.raises(ConfigError, match=name):
        converted_gguf(bad, cache=tmp_path / "cache", progress=False)
    assert not any((tmp_path / "cache" / "onnx").iterdir())  # nothing corrupt is cached


def test_shape_disagreeing_with_metadata_is_refused_as_size_mismatch(tmp_path, tiny_gguf):
    import struct

    from byom_onnx import convert_gguf
    from byom_onnx_tiny import FFN

    bad = tmp_path / "bad.gguf"
    raw = bytearray(tiny_gguf.read_bytes())
    key = b"llama.feed_forward_length"
    at = raw.index(key) + len(key) + 4  # the key, then its uint32 type tag, then the value
    assert struct.unpack_from("<I", raw, at)[0] == FFN
    struct.pack_into("<I", raw, at, FFN * 2)
    bad.write_bytes(bytes(raw))
    with pytest.raises(ConfigError, match=r"tensor 'blk\.0\.ffn_gate\.weight' fails validation \(size mismatch"):
        convert_gguf(bad, tmp_path / "out", progress=False)


@pytest.mark.slow
def test_real_gguf_with_4kb_overwritten_mid_file_is_refused_naming_the_tensor(tmp_path, smollm2_gguf):
    from byom_onnx import convert_gguf
    from gguf import GGUFReader

    bad = tmp_path / "SmolLM2-corrupt.gguf"
    bad.write_bytes(smollm2_gguf.read_bytes())
    size = bad.stat().st_size
    start = size // 2 + 12345
    _overwrite(bad, start, np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    hit = {
        t.name
        for t in GGUFReader(str(bad)).tensors
        if int(t.data_offset) < start + 4096 and start < int(t.data_offset) + int(t.n_bytes)
    }
    with pytest.raises(ConfigError) as info:
        convert_gguf(bad, tmp_path / "out", progress=False)
    named = str(info.value).split("tensor '")[1].split("'")[0]
    assert named in hit
