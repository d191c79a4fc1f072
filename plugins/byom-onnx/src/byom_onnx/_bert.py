"""Safetensors BERT encoder → ONNX (no torch), producing a sentence-transformers layout-D folder.

The safetensors file is parsed directly (an 8-byte little-endian header length, a JSON header
of dtype/shape/offsets, then raw little-endian data), and the encoder is written with
standard ONNX operators in fp32, so the output matches the original weights exactly up to
fp32 rounding. The folder's tokenizer, pooling and normalisation files are copied beside
``onnx/model.onnx`` so the result is an ordinary Optimum ``feature-extraction`` export.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from byom_sdk import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import onnx

__all__ = ["build_bert_graph", "convert_bert", "converted_bert", "read_safetensors"]

BERT_CONVERTER_VERSION = "2"
_SIDE_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a ``.safetensors`` file as float32 numpy arrays (F32, F16, BF16)."""
    import numpy as np

    try:
        raw = np.memmap(path, dtype=np.uint8, mode="r")
        (size,) = struct.unpack("<Q", bytes(raw[:8]))
        header = json.loads(bytes(raw[8 : 8 + size]))
    except (OSError, ValueError, struct.error) as exc:
        raise ConfigError(f"{path} is not a readable safetensors file: {exc}", field="path") from exc
    base = 8 + size
    out: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        chunk = raw[base + start : base + end]
        dtype = meta["dtype"]
        if dtype == "F32":
            array = chunk.view(np.float32)
        elif dtype == "F16":
            array = chunk.view(np.float16).astype(np.float32)
        elif dtype == "BF16":
            array = (chunk.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif dtype in ("I64", "I32"):
            continue  # position_ids buffers: recomputed in the graph
        else:
            raise ConfigError(
                f"{path}: tensor '{name}' has dtype {dtype}, which the converter does not handle", field="path"
            )
        out[name] = np.array(array, dtype=np.float32).reshape(meta["shape"])
    return out


def build_bert_graph(weights: dict[str, np.ndarray], config: dict[str, Any], *, source: str) -> onnx.ModelProto:
    """A BERT encoder with inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` and
    output ``last_hidden_state``."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = {k.removeprefix("bert."): v for k, v in weights.items()}
    if "embeddings.word_embeddings.weight" not in w:
        raise ConfigError(f"{source}: not a BERT checkpoint (no embeddings.word_embeddings.weight)", field="path")
    if config.get("model_type", "bert") != "bert" or config.get("position_embedding_type", "absolute") != "absolute":
        raise ConfigError(
            f"{source}: only BERT with absolute positions is supported (model_type {config.get('model_type')!r})",
            field="path",
        )
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    act = config.get("hidden_act", "gelu")
    if act not in ("gelu", "gelu_new", "gelu_pytorch_tanh"):
        raise ConfigError(f"{source}: hidden_act {act!r} is not supported", field="path")
    head_dim = hidden // heads
    nodes: list[Any] = []
    inits: list[Any] = []
    counter = [0]

    def const(name: str, array: Any) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(op_type: str, inputs: list[str], **attrs: Any) -> str:
        counter[0] += 1
        out = f"{op_type}_{counter[0]}"
        nodes.append(helper.make_node(op_type, inputs, [out], name=f"n{counter[0]}", **attrs))
        return out

    def linear(x: str, prefix: str) -> str:
        y = op("MatMul", [x, const(f"{prefix}.wT", w[f"{prefix}.weight"].T)])
        return op("Add", [y, const(f"{prefix}.b", w[f"{prefix}.bias"])])

    def layer_norm(x: str, prefix: str) -> str:
        return op(
            "LayerNormalization",
            [x, const(f"{prefix}.g", w[f"{prefix}.weight"]), const(f"{prefix}.beta", w[f"{prefix}.bias"])],
            axis=-1,
            epsilon=eps,
        )

    def gelu(x: str) -> str:
        if act == "gelu":
            inner = op("Erf", [op("Mul", [x, const(f"c.rsqrt2.{counter[0]}", np.array(1 / np.sqrt(2), np.float32))])])
            return op(
                "Mul",
                [
                    op("Mul", [x, op("Add", [inner, const(f"c.one.{counter[0]}", np.array(1, np.float32))])]),
                    const(f"c.half.{counter[0]}", np.array(0.5, np.float32)),
                ],
            )
        return op("Gelu", [x], approximate="tanh")

    seq = op("Shape", ["input_ids"], start=1, end=2)
    # Positions 0..S-1 are a prefix of the table: slice it (no Range/Gather to fuse badly).
    pos = op(
        "Slice",
        [
            const("emb.pos", w["embeddings.position_embeddings.weight"]),
            const("c.zero", np.array([0], np.int64)),
            seq,
            const("c.ax0", np.array([0], np.int64)),
        ],
    )
    x = op("Add", [op("Gather", [const("emb.word", w["embeddings.word_embeddings.weight"]), "input_ids"]), pos])
    x = op(
        "Add", [x, op("Gather", [const("emb.type", w["embeddings.token_type_embeddings.weight"]), "token_type_ids"])]
    )
    x = layer_norm(x, "embeddings.LayerNorm")
    mask = op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    bias = op(
        "Mul", [op("Sub", [const("c.one", np.array(1, np.float32)), mask]), const("c.neg", np.array(-1e9, np.float32))]
    )
    bias = op("Unsqueeze", [bias, const("c.ax12", np.array([1, 2], np.int64))])
    split_shape = const("c.split", np.array([0, 0, heads, head_dim], np.int64))
    merge_shape = const("c.merge", np.array([0, 0, hidden], np.int64))
    scale = const("c.scale", np.array(1 / np.sqrt(head_dim), np.float32))
    for i in range(layers):
        p = f"encoder.layer.{i}"
        q = op("Transpose", [op("Reshape", [linear(x, f"{p}.attention.self.query"), split_shape])], perm=[0, 2, 1, 3])
        k = op("Transpose", [op("Reshape", [linear(x, f"{p}.attention.self.key"), split_shape])], perm=[0, 2, 3, 1])
        v = op("Transpose", [op("Reshape", [linear(x, f"{p}.attention.self.value"), split_shape])], perm=[0, 2, 1, 3])
        scores = op("Add", [op("Mul", [op("MatMul", [q, k]), scale]), bias])
        ctx = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        ctx = op("Reshape", [op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_shape])
        x = layer_norm(op("Add", [linear(ctx, f"{p}.attention.output.dense"), x]), f"{p}.attention.output.LayerNorm")
        h = gelu(linear(x, f"{p}.intermediate.dense"))
        x = layer_norm(op("Add", [linear(h, f"{p}.output.dense"), x]), f"{p}.output.LayerNorm")
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    dims = ["batch_size", "sequence_length"]
    graph = helper.make_graph(
        nodes,
        "byom_onnx_bert",
        [
            helper.make_tensor_value_info(n, TensorProto.INT64, dims)
            for n in ("input_ids", "attention_mask", "token_type_ids")
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*dims, hidden])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="byom-onnx")
    model.ir_version = 10  # onnxruntime 1.31 refuses onnx 1.23's default IR 14
    return model


def convert_bert(folder: str | Path, out_dir: str | Path) -> Path:
    """Convert a sentence-transformers / HF BERT folder with ``model.safetensors``."""
    import onnx

    src = Path(folder)
    weights_file = src / "model.safetensors"
    config_file = src / "config.json"
    for needed in (weights_file, config_file, src / "tokenizer.json"):
        if not needed.is_file():
            raise ConfigError(f"{src}: missing {needed.name} (needed to convert a safetensors encoder)", field="path")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{config_file}: invalid JSON: {exc}", field="path") from exc
    model = build_bert_graph(read_safetensors(weights_file), config, source=str(src))
    out = Path(out_dir)
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out / "onnx" / "model.onnx"))
    for name in _SIDE_FILES:
        if (src / name).is_file():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / name, out / name)
    (out / "byom_onnx.json").write_text(
        json.dumps({"source": str(src), "converter_version": BERT_CONVERTER_VERSION}), encoding="utf-8"
    )
    return out


def converted_bert(folder: str | Path, *, cache: str | Path | None = None) -> Path:
    """The cached layout-D folder for a safetensors BERT folder (converted on first use)."""
    import onnxruntime

    from ._convert import cache_dir, file_sha256

    src = Path(folder)
    weights_file = src / "model.safetensors"
    if not weights_file.is_file():
        raise ConfigError(f"{src}: missing model.safetensors", field="path")
    root = Path(cache) if cache is not None else cache_dir()
    target = root / "onnx" / f"{file_sha256(weights_file)}-bert{BERT_CONVERTER_VERSION}-{onnxruntime.__version__}"
    if (target / "byom_onnx.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        convert_bert(src, staging)
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / "byom_onnx.json").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
