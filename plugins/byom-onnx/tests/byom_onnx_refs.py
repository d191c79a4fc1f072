"""Independent numpy references the tests compare onnxruntime against.

They share no code with byom_onnx: weights come from ``gguf.quants.dequantize`` (or the
safetensors bytes parsed here), the rotary embedding is HF's ``rotate_half`` on un-permuted
Q/K rows (the converter instead keeps GGUF's rows and sets ``rotary_interleaved``), and
attention is written out in float64.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

# -- llama from GGUF ----------------------------------------------------------------------


def _meta(reader, key, default=None):
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def load_gguf_weights(path):
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(str(path))
    arch = _meta(reader, "general.architecture")
    hp = {
        "layers": int(_meta(reader, f"{arch}.block_count")),
        "heads": int(_meta(reader, f"{arch}.attention.head_count")),
        "kv_heads": int(_meta(reader, f"{arch}.attention.head_count_kv")),
        "theta": float(_meta(reader, f"{arch}.rope.freq_base", 10000.0)),
        "eps": float(_meta(reader, f"{arch}.attention.layer_norm_rms_epsilon")),
    }
    weights = {}
    for t in reader.tensors:
        w = dequantize(t.data, t.tensor_type).astype(np.float64)
        shape = [int(d) for d in t.shape][::-1]
        weights[t.name] = w.reshape(shape)
    return hp, weights


def _unpermute(w, heads):
    # convert_hf_to_gguf permutes rows as reshape(h, 2, hd/2, K).swapaxes(1, 2); undo it.
    n, k = w.shape
    return w.reshape(heads, n // heads // 2, 2, k).swapaxes(1, 2).reshape(n, k)


def _rms(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def _rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def llama_logits(hp, weights, ids):
    """Logits (S, V) for every position of ``ids``, float64."""
    ids = np.asarray(ids)
    x = weights["token_embd.weight"][ids]
    s = len(ids)
    nh, nkv = hp["heads"], hp["kv_heads"]
    hd = x.shape[-1] // nh
    inv = 1.0 / hp["theta"] ** (np.arange(0, hd, 2) / hd)
    ang = np.outer(np.arange(s), inv)
    cos = np.concatenate([np.cos(ang)] * 2, -1)
    sin = np.concatenate([np.sin(ang)] * 2, -1)
    causal = np.triu(np.full((s, s), -np.inf), 1)
    for i in range(hp["layers"]):
        p = f"blk.{i}."
        h = _rms(x, weights[p + "attn_norm.weight"], hp["eps"])
        q = (h @ _unpermute(weights[p + "attn_q.weight"], nh).T).reshape(s, nh, hd).transpose(1, 0, 2)
        k = (h @ _unpermute(weights[p + "attn_k.weight"], nkv).T).reshape(s, nkv, hd).transpose(1, 0, 2)
        v = (h @ weights[p + "attn_v.weight"].T).reshape(s, nkv, hd).transpose(1, 0, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        k = np.repeat(k, nh // nkv, axis=0)
        v = np.repeat(v, nh // nkv, axis=0)
        att = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + causal
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = (att @ v).transpose(1, 0, 2).reshape(s, nh * hd)
        x = x + o @ weights[p + "attn_output.weight"].T
        h = _rms(x, weights[p + "ffn_norm.weight"], hp["eps"])
        gate = h @ weights[p + "ffn_gate.weight"].T
        up = h @ weights[p + "ffn_up.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ weights[p + "ffn_down.weight"].T
    x = _rms(x, weights["output_norm.weight"], hp["eps"])
    head = weights.get("output.weight", weights["token_embd.weight"])
    return x @ head.T


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def kl(ref_logits, logits):
    p = log_softmax(np.asarray(ref_logits, np.float64))
    q = log_softmax(np.asarray(logits, np.float64))
    return float((np.exp(p) * (p - q)).sum(-1).max())


def mean_kl(ref_logits, logits):
    """KL(ref || x) averaged over positions (the local-onnx reference's accuracy metric)."""
    p = log_softmax(np.asarray(ref_logits, np.float64))
    q = log_softmax(np.asarray(logits, np.float64))
    return float((np.exp(p) * (p - q)).sum(-1).mean())


# -- BERT from safetensors ---------------------------------------------------------------


def read_safetensors(path):
    """Parse a safetensors file by hand (8-byte header length, JSON header, raw data)."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
    return out


def _ln(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu(x):
    from math import erf

    return 0.5 * x * (1.0 + np.vectorize(erf)(x / np.sqrt(2.0)))


def bert_sentence_embedding(folder, ids):
    """Mean-pooled, L2-normalised sentence embedding of one id sequence, float64."""
    folder = Path(folder)
    cfg = json.loads((folder / "config.json").read_text())
    w = {
        k.removeprefix("bert."): v.astype(np.float64) for k, v in read_safetensors(folder / "model.safetensors").items()
    }
    eps = cfg["layer_norm_eps"]
    nh = cfg["num_attention_heads"]
    ids = np.asarray(ids)
    s = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:s]
    x = x + w["embeddings.token_type_embeddings.weight"][0]
    x = _ln(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    hd = x.shape[-1] // nh
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def lin(v, name, p=p):
            return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        q = lin(x, "attention.self.query").reshape(s, nh, hd).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(s, nh, hd).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(s, nh, hd).transpose(1, 0, 2)
        att = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = (att @ v).transpose(1, 0, 2).reshape(s, -1)
        x = _ln(
            x + lin(o, "attention.output.dense"),
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        h = _gelu(lin(x, "intermediate.dense"))
        x = _ln(x + lin(h, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    e = x.mean(0)
    return e / np.linalg.norm(e)
