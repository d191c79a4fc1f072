"""Tiny models the tests build themselves: random weights, small dimensions.

- :func:`write_tiny_gguf`: a 2-layer llama GGUF (layout E → A) in any tensor type;
- :func:`write_tiny_optimum`: a 1-layer decoder with a growing cache (layout B), or wrapped
  with ``use_cache_branch`` in an ``If`` (layout C), plus its numpy reference;
- :func:`write_tiny_bert`: a BERT safetensors folder with sentence-transformers files (D).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

HIDDEN, HEADS, KV_HEADS, FFN, LAYERS = 64, 2, 1, 128, 2


def _byte_chars():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs, strict=False))]


def tiny_vocab():
    """17 control tokens like SmolLM2's first ids, then the 256 byte symbols and 4 merges."""
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    merges = ["Ġ t", "h e", "Ġt he", "i n"]
    tokens = specials + _byte_chars() + ["Ġt", "he", "Ġthe", "in"]
    types = [3] * len(specials) + [1] * (len(tokens) - len(specials))
    return tokens, types, merges


CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"  # noqa: E501
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _permute(w, heads):
    # What convert_hf_to_gguf does to Q/K rows (HF rotate_half order → ggml interleaved).
    n, k = w.shape
    return w.reshape(heads, 2, n // heads // 2, k).swapaxes(1, 2).reshape(n, k)


WORD_CYCLE = ("Ġthe", "Ġ", "in")  # " the in the in ...": words, for stop-string checks


def write_tiny_gguf(
    path,
    *,
    qtype="Q4_1",
    embed_type="Q8_0",
    arch="llama",
    tied=True,
    seed=0,
    extra_tensor=None,
    words=False,
    context=256,
):
    """A 2-layer llama GGUF with random weights; ``qtype`` for layer weights.

    ``words=True`` makes greedy output readable words: layer weights are small, so the residual
    stream carries the current token's embedding, and an untied head maps each token to the
    next one of :data:`WORD_CYCLE` (a bigram model in transformer clothing).
    """
    import gguf
    from gguf import GGMLQuantizationType as T
    from gguf.quants import quantize

    rng = np.random.default_rng(seed)
    tokens, types, merges = tiny_vocab()
    vocab = len(tokens)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(LAYERS)
    w.add_context_length(context)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(HIDDEN // HEADS)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)

    def add(name, array, kind):
        array = np.ascontiguousarray(array, dtype=np.float32)
        if kind == "F32":
            w.add_tensor(name, array)
        elif kind == "F16":
            w.add_tensor(name, array.astype(np.float16))
        else:
            t = T[kind]
            w.add_tensor(name, quantize(array, t), raw_dtype=t)

    hd = HIDDEN // HEADS
    embd = rng.normal(0, 0.5, (vocab, HIDDEN))
    add("token_embd.weight", embd, embed_type)
    scale = 0.01 if words else 0.15
    for i in range(LAYERS):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", 1 + 0.1 * rng.normal(size=HIDDEN), "F32")
        add(p + "ffn_norm.weight", 1 + 0.1 * rng.normal(size=HIDDEN), "F32")
        add(p + "attn_q.weight", _permute(rng.normal(0, scale, (HIDDEN, HIDDEN)), HEADS), qtype)
        add(p + "attn_k.weight", _permute(rng.normal(0, scale, (KV_HEADS * hd, HIDDEN)), KV_HEADS), qtype)
        add(p + "attn_v.weight", rng.normal(0, scale, (KV_HEADS * hd, HIDDEN)), qtype)
        add(p + "attn_output.weight", rng.normal(0, scale, (HIDDEN, HIDDEN)), qtype)
        add(p + "ffn_gate.weight", rng.normal(0, scale, (FFN, HIDDEN)), qtype)
        add(p + "ffn_up.weight", rng.normal(0, scale, (FFN, HIDDEN)), qtype)
        add(p + "ffn_down.weight", rng.normal(0, scale, (HIDDEN, FFN)), qtype)
    add("output_norm.weight", 1 + 0.1 * rng.normal(size=HIDDEN), "F32")
    if words:
        ids = {t: i for i, t in enumerate(tokens)}
        cycle = [ids[t] for t in WORD_CYCLE]
        head = rng.normal(0, 0.01, (vocab, HIDDEN))
        for i in range(vocab):  # every token leads into the cycle; the cycle goes round
            nxt = cycle[(cycle.index(i) + 1) % len(cycle)] if i in cycle else cycle[0]
            head[nxt] += embd[i] / np.linalg.norm(embd[i]) * 2.0
        add("output.weight", head, "Q8_0")
    elif not tied:
        add("output.weight", rng.normal(0, 0.2, (vocab, HIDDEN)), qtype)
    if extra_tensor is not None:
        add(*extra_tensor)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Path(path)


def tiny_tokenizer():
    """The tiny byte-level BPE as a ``tokenizers.Tokenizer`` (for the hand-built layouts)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    tokens, types, merges = tiny_vocab()
    tok = Tokenizer(
        models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[tuple(m.split(" ")) for m in merges])
    )
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, types, strict=False) if k == 3]
    )
    return tok


# -- layout B / C: a 1-layer single-head decoder with a growing cache ----------------------


def _optimum_weights(seed, vocab, d):
    rng = np.random.default_rng(seed)
    return {
        "E": rng.normal(0, 1, (vocab, d)).astype(np.float32),
        "P": rng.normal(0, 0.3, (64, d)).astype(np.float32),
        "Wq": rng.normal(0, 0.3, (d, d)).astype(np.float32),
        "Wk": rng.normal(0, 0.3, (d, d)).astype(np.float32),
        "Wv": rng.normal(0, 0.3, (d, d)).astype(np.float32),
        "Wo": rng.normal(0, 0.5, (d, vocab)).astype(np.float32),
    }


def optimum_reference(weights, ids):
    """Logits (S, V) of the tiny B/C decoder for every position, float64."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    s = len(ids)
    x = w["E"][ids] + w["P"][:s]
    q, k, v = x @ w["Wq"], x @ w["Wk"], x @ w["Wv"]
    att = q @ k.T / np.sqrt(x.shape[1]) + np.triu(np.full((s, s), -np.inf), 1)
    att = np.exp(att - att.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    return (x + att @ v) @ w["Wo"]


def write_tiny_optimum(folder, *, merged=False, seed=1, position_ids=True):
    """Write layout B (``onnx/model.onnx``) or C (``decoder_model_merged.onnx``); returns weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder = Path(folder)
    tok = tiny_tokenizer()
    vocab, d = tok.get_vocab_size(), 32
    weights = _optimum_weights(seed, vocab, d)
    inits = [numpy_helper.from_array(v, k) for k, v in weights.items()]
    inits += [
        numpy_helper.from_array(np.array([1], np.int64), "ax1"),
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array(1, np.int64), "one"),
        numpy_helper.from_array(np.array(1 / np.sqrt(d), np.float32), "scale"),
        numpy_helper.from_array(np.array(-1e9, np.float32), "neg"),
        numpy_helper.from_array(np.array([0, 3], np.int64), "ax03"),
    ]
    n = helper.make_node
    nodes = []
    past_k, past_v = "past_key_values.0.key", "past_key_values.0.value"
    if merged:
        # use_cache_branch=False ignores the past (legacy merged decoders wrap two graphs).
        def branch(name, use_past):
            outs = []
            body = []
            for src in (past_k, past_v):
                out = f"{name}_{src}"
                if use_past:
                    body.append(n("Identity", [src], [out]))
                else:
                    body.append(n("Slice", [src, "sl_start", "sl_end", "sl_axis"], [out]))
                outs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, None))
            return helper.make_graph(body, name, [], outs)

        inits += [numpy_helper.from_array(np.array([0], np.int64), k) for k in ("sl_start", "sl_end")]
        inits += [numpy_helper.from_array(np.array([2], np.int64), "sl_axis")]
        nodes.append(
            n(
                "If",
                ["use_cache_branch"],
                ["pk", "pv"],
                then_branch=branch("then", True),
                else_branch=branch("else", False),
            )
        )
        past_k, past_v = "pk", "pv"
    pos = "position_ids"
    nodes += [
        n("Gather", ["E", "input_ids"], ["xe"]),
        n("Gather", ["P", pos], ["xp"]),
        n("Add", ["xe", "xp"], ["x"]),
    ]
    for name, weight in (("q", "Wq"), ("k", "Wk"), ("v", "Wv")):
        nodes += [n("MatMul", ["x", weight], [f"{name}3"]), n("Unsqueeze", [f"{name}3", "ax1"], [f"{name}4"])]
    nodes += [
        n("Concat", [past_k, "k4"], ["present.0.key"], axis=2),
        n("Concat", [past_v, "v4"], ["present.0.value"], axis=2),
        n("Transpose", ["present.0.key"], ["kt"], perm=[0, 1, 3, 2]),
        n("MatMul", ["q4", "kt"], ["s0"]),
        n("Mul", ["s0", "scale"], ["s1"]),
        # causal: key position j is visible to the query at absolute position p iff j <= p
        n("Shape", ["attention_mask"], ["tshape"], start=1, end=2),
        n("Squeeze", ["tshape"], ["tlen"]),
        n("Range", ["zero", "tlen", "one"], ["kpos"]),
        n("Unsqueeze", [pos, "ax03"], ["qpos"]),
        n("LessOrEqual", ["kpos", "qpos"], ["allowed"]),
        n("Where", ["allowed", "s1", "neg"], ["s2"]),
        n("Softmax", ["s2"], ["probs"], axis=-1),
        n("MatMul", ["probs", "present.0.value"], ["o4"]),
        n("Squeeze", ["o4", "ax1"], ["o3"]),
        n("Add", ["x", "o3"], ["h"]),
        n("MatMul", ["h", "Wo"], ["logits"]),
    ]
    kv = ["batch", 1, "past", d]
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "total"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("past_key_values.0.key", TensorProto.FLOAT, kv),
        helper.make_tensor_value_info("past_key_values.0.value", TensorProto.FLOAT, kv),
    ]
    if merged:
        inputs.append(helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1]))
    outputs = [
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", vocab]),
        helper.make_tensor_value_info("present.0.key", TensorProto.FLOAT, ["batch", 1, "total", d]),
        helper.make_tensor_value_info("present.0.value", TensorProto.FLOAT, ["batch", 1, "total", d]),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "tiny_decoder", inputs, outputs, initializer=inits),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 10
    target = folder / ("decoder_model_merged.onnx" if merged else "onnx/model.onnx")
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|im_end|>", "chat_template": CHATML}))
    (folder / "config.json").write_text(
        json.dumps(
            {
                "num_hidden_layers": 1,
                "num_key_value_heads": 1,
                "head_dim": d,
                "eos_token_id": 2,
                "max_position_embeddings": 64,
            }
        )
    )
    return weights


# -- layout D: a tiny BERT in safetensors with sentence-transformers files -------------------


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def write_tiny_bert(folder, *, seed=2, hidden=32, heads=4, layers=2, inter=64):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "the",
        "cat",
        "dog",
        "sat",
        "on",
        "mat",
        "a",
        "rug",
        "stock",
        "fell",
        ".",
    ]
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.decoder = decoders.WordPiece()
    # Registered as specials, as in real BERT tokenizers: decoded "[UNK]" re-encodes to itself.
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    tok.save(str(folder / "tokenizer.json"))
    rng = np.random.default_rng(seed)
    t = {
        "embeddings.word_embeddings.weight": rng.normal(0, 0.5, (len(words), hidden)),
        "embeddings.position_embeddings.weight": rng.normal(0, 0.1, (64, hidden)),
        "embeddings.token_type_embeddings.weight": rng.normal(0, 0.1, (2, hidden)),
        "embeddings.LayerNorm.weight": 1 + 0.1 * rng.normal(size=hidden),
        "embeddings.LayerNorm.bias": 0.1 * rng.normal(size=hidden),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name, shape in (
            ("attention.self.query", (hidden, hidden)),
            ("attention.self.key", (hidden, hidden)),
            ("attention.self.value", (hidden, hidden)),
            ("attention.output.dense", (hidden, hidden)),
            ("intermediate.dense", (inter, hidden)),
            ("output.dense", (hidden, inter)),
        ):
            t[p + name + ".weight"] = rng.normal(0, 0.2, shape)
            t[p + name + ".bias"] = 0.05 * rng.normal(size=shape[0])
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[p + name + ".weight"] = 1 + 0.1 * rng.normal(size=hidden)
            t[p + name + ".bias"] = 0.1 * rng.normal(size=hidden)
    write_safetensors(folder / "model.safetensors", t)
    config = {
        "model_type": "bert",
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "intermediate_size": inter,
        "layer_norm_eps": 1e-12,
        "hidden_act": "gelu",
        "max_position_embeddings": 64,
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ]
        )
    )
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": hidden, "pooling_mode_mean_tokens": True})
    )
    return folder


# -- a SentencePiece ("llama") tokenizer in a GGUF ------------------------------------------

SPM_PIECES = {  # piece: score (higher merges first), like a SentencePiece BPE model
    "\u2581": -1.0,
    "t": -2.0,
    "h": -3.0,
    "e": -4.0,
    "a": -5.0,
    "c": -6.0,
    "s": -7.0,
    "o": -8.0,
    "l": -9.0,
    "\u2581t": -10.0,
    "he": -11.0,
    "\u2581the": -12.0,
    "at": -13.0,
    "\u2581c": -14.0,
    "\u2581cat": -15.0,
    "ll": -16.0,
    "hell": -17.0,
    "\u2581s": -18.0,
    "\u2581sat": -19.0,
    "lo": -20.0,
    "\u2581h": -21.0,
}


def spm_vocab():
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + list(SPM_PIECES)
    types = [2, 3, 3] + [6] * 256 + [1] * len(SPM_PIECES)
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + list(SPM_PIECES.values())
    return tokens, types, scores


def write_tiny_spm_gguf(path, *, seed=0):
    """The tiny llama model with a SentencePiece tokenizer instead of byte-level BPE."""
    import gguf

    tokens, types, scores = spm_vocab()
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_scores(scores)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    hd = HIDDEN // HEADS
    shapes = {
        "attn_q": (HIDDEN, HIDDEN),
        "attn_k": (KV_HEADS * hd, HIDDEN),
        "attn_v": (KV_HEADS * hd, HIDDEN),
        "attn_output": (HIDDEN, HIDDEN),
        "ffn_gate": (FFN, HIDDEN),
        "ffn_up": (FFN, HIDDEN),
        "ffn_down": (HIDDEN, FFN),
    }
    w.add_tensor("token_embd.weight", rng.normal(0, 0.5, (len(tokens), HIDDEN)).astype(np.float32))
    for name, shape in shapes.items():
        w.add_tensor(f"blk.0.{name}.weight", rng.normal(0, 0.1, shape).astype(np.float32))
    for name in ("blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "output_norm.weight"):
        w.add_tensor(name, np.ones(HIDDEN, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Path(path)


def spm_reference_encode(text):
    """llama.cpp's SentencePiece algorithm, written independently: prefix a space, spaces → ▁,
    repeatedly merge the adjacent pair whose concatenation is in the vocab with the highest
    score (leftmost on ties), then byte-fallback every symbol the vocab lacks."""
    tokens, _, scores = spm_vocab()
    ids = {t: i for i, t in enumerate(tokens)}
    symbols = list(("\u2581" + text).replace(" ", "\u2581"))
    while True:
        best = None
        for i in range(len(symbols) - 1):
            merged = symbols[i] + symbols[i + 1]
            if merged in ids and (best is None or scores[ids[merged]] > best[0]):
                best = (scores[ids[merged]], i)
        if best is None:
            break
        i = best[1]
        symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
    out = []
    for symbol in symbols:
        if symbol in ids:
            out.append(ids[symbol])
        else:
            out.extend(ids[f"<0x{b:02X}>"] for b in symbol.encode("utf-8"))
    return out


def break_graph_output(model_file, output):
    """Make ``output`` fail at run time (a Reshape whose element count never matches), the way
    a corrupt or mis-exported graph fails inside onnxruntime rather than at load."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(model_file))
    producer = next(n for n in model.graph.node if output in n.output)
    producer.output[list(producer.output).index(output)] = output + "_pre"
    dim = next(o for o in model.graph.output if o.name == output).type.tensor_type.shape.dim[-1].dim_value
    model.graph.initializer.append(numpy_helper.from_array(np.array([0, 0, dim - 1], np.int64), "broken_shape"))
    model.graph.node.append(helper.make_node("Reshape", [output + "_pre", "broken_shape"], [output], name="broken"))
    onnx.save(model, str(model_file))
