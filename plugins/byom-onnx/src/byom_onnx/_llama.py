"""Build an onnxruntime-genai style (layout A) decoder graph for a llama-architecture GGUF.

The graph uses onnxruntime's contrib operators, the same ones onnxruntime-genai emits:

- ``GatherBlockQuantized`` reads the (Q8_0 / Q4_0) embedding table without widening it;
- per layer: ``SkipSimplifiedLayerNormalization`` (residual fused), a fused QKV
  ``MatMulNBits``, ``GroupQueryAttention`` with the rotary embedding fused in, the output
  projection, a fused gate|up ``MatMulNBits`` and SiLU·up, then the down projection;
- only the last position reaches the final norm and the LM head (a 49152x576 GEMM per prompt
  token saved in prefill), so ``logits`` is ``(batch, 1, vocab)``.

GGUF's converter permutes the Q and K rows of llama models for ggml's interleaved-pair RoPE;
keeping those rows and setting ``rotary_interleaved=1`` is equivalent to HF's ``rotate_half``
on the original rows, so no weight is touched. ``seqlens_k`` and ``total_sequence_length``
are computed from ``attention_mask`` inside the graph, as genai's builder does, so a runtime
binds only ``input_ids``, ``attention_mask`` and the shared past/present buffers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from byom_sdk import ConfigError

from ._gguf import GGUFFile, LinearWeight, concat_linear, embedding_table, linear_weight, validate_tensor

if TYPE_CHECKING:
    import numpy as np
    import onnx

__all__ = ["LlamaHyper", "build_llama_graph", "llama_hyper", "validate_llama"]

_ARCHITECTURES = ("llama",)
_LAYER_TENSORS = frozenset(
    {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"}
)


@dataclass(frozen=True)
class LlamaHyper:
    """The shapes and constants of a llama-architecture model, read from GGUF metadata."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    context_length: int
    rope_theta: float
    rms_eps: float


def llama_hyper(gguf: GGUFFile) -> LlamaHyper:
    """Read and check the hyper-parameters; refuses what the graph would get wrong."""
    arch = gguf.architecture
    if arch not in _ARCHITECTURES:
        raise ConfigError(
            f"{gguf.path}: GGUF architecture '{arch or '<missing>'}' is not supported by the converter yet "
            f"(supported: {', '.join(_ARCHITECTURES)})",
            field="path",
        )
    scaling = gguf.arch_key("rope.scaling.type")
    if (scaling not in (None, "none")) or "rope_freqs.weight" in gguf.tensors:
        raise ConfigError(
            f"{gguf.path}: RoPE scaling ({scaling or 'rope_freqs.weight'}) is not supported by the converter yet",
            field="path",
        )
    hidden = int(gguf.require(f"{arch}.embedding_length"))
    heads = int(gguf.require(f"{arch}.attention.head_count"))
    kv_heads = int(gguf.arch_key("attention.head_count_kv", heads))
    head_dim = int(gguf.arch_key("attention.key_length", hidden // heads))
    rope_dim = int(gguf.arch_key("rope.dimension_count", head_dim))
    if rope_dim != head_dim:
        raise ConfigError(f"{gguf.path}: partial rotary ({rope_dim} of {head_dim}) is not supported yet", field="path")
    embd = gguf.tensor("token_embd.weight")
    vocab = int(gguf.arch_key("vocab_size", int(embd.shape[1])))
    return LlamaHyper(
        layers=int(gguf.require(f"{arch}.block_count")),
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        ffn=int(gguf.require(f"{arch}.feed_forward_length")),
        vocab=vocab,
        context_length=int(gguf.arch_key("context_length", 2048)),
        rope_theta=float(gguf.arch_key("rope.freq_base", 10000.0)),
        rms_eps=float(gguf.arch_key("attention.layer_norm_rms_epsilon", 1e-5)),
    )


@dataclass
class _Graph:
    """Accumulates nodes and initializers; ``dtype`` is the activation type."""

    dtype: str
    accuracy_level: int
    nodes: list[Any] = field(default_factory=list)
    initializers: list[Any] = field(default_factory=list)
    _count: int = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def float_const(self, name: str, array: np.ndarray) -> str:
        import numpy as np

        return self.const(
            name, np.ascontiguousarray(array, dtype=np.float16 if self.dtype == "float16" else np.float32)
        )

    def op(
        self, op_type: str, inputs: list[str], outputs: int | list[str] = 1, *, domain: str = "", **attrs: Any
    ) -> list[str]:
        from onnx import helper

        names = outputs if isinstance(outputs, list) else [self.name(op_type) for _ in range(outputs)]
        self.nodes.append(
            helper.make_node(op_type, inputs, names, name=self.name(f"{op_type}_node"), domain=domain or None, **attrs)
        )
        return names

    def linear(self, x: str, weight: LinearWeight, prefix: str, *, accuracy_level: int | None = None) -> str:
        """``x @ W.T``: MatMulNBits (+ the Q4_1 block-offset term) or a float MatMul."""
        import numpy as np

        if weight.bits == 0:
            assert weight.weight is not None
            return self.op("MatMul", [x, self.float_const(f"{prefix}.weight", weight.weight)])[0]
        assert weight.blob is not None and weight.scales is not None
        out = self.op(
            "MatMulNBits",
            [x, self.const(f"{prefix}.qweight", weight.blob), self.float_const(f"{prefix}.scales", weight.scales)],
            domain="com.microsoft",
            K=weight.k,
            N=weight.n,
            bits=weight.bits,
            block_size=32,
            accuracy_level=self.accuracy_level if accuracy_level is None else accuracy_level,
        )[0]
        if weight.offset is None:
            return out
        # w = d·(q-8) + c per 32-block, so x @ W.T gains blocksum(x) @ C: the symmetric kernel
        # stays on its fast path and the correction is one small GEMM (kb x N).
        kb = weight.k // 32
        shape = self.const(f"{prefix}.block_shape", np.array([0, 0, kb, 32], dtype=np.int64))
        blocks = self.op("Reshape", [x, shape])[0]
        sums = self.op("ReduceSum", [blocks, self.const(f"{prefix}.axes", np.array([-1], np.int64))], keepdims=0)[0]
        corr = self.op("MatMul", [sums, self.float_const(f"{prefix}.offset", weight.offset)])[0]
        return self.op("Add", [out, corr])[0]


def _expected_shapes(hyper: LlamaHyper) -> dict[str, tuple[int, ...]]:
    """GGUF shapes (``ne0`` = input features first) of every tensor the graph reads."""
    h, q, kv, f = hyper.hidden, hyper.heads * hyper.head_dim, hyper.kv_heads * hyper.head_dim, hyper.ffn
    shapes: dict[str, tuple[int, ...]] = {
        "token_embd.weight": (h, hyper.vocab),
        "output.weight": (h, hyper.vocab),
        "output_norm.weight": (h,),
    }
    per_layer = {
        "attn_norm": (h,),
        "ffn_norm": (h,),
        "attn_q": (h, q),
        "attn_k": (h, kv),
        "attn_v": (h, kv),
        "attn_output": (q, h),
        "ffn_gate": (h, f),
        "ffn_up": (h, f),
        "ffn_down": (f, h),
    }
    for i in range(hyper.layers):
        shapes.update({f"blk.{i}.{name}.weight": shape for name, shape in per_layer.items()})
    return shapes


def validate_llama(gguf: GGUFFile, hyper: LlamaHyper) -> None:
    """Refuse, naming the tensor, a file whose tensors disagree with its metadata's shapes or
    hold bytes no trained model has (see :func:`~byom_onnx._gguf.validate_tensor`)."""
    file_size = gguf.path.stat().st_size
    for name, shape in _expected_shapes(hyper).items():
        tensor = gguf.tensors.get(name)
        if tensor is None:
            continue  # missing tensors are named where the graph needs them
        got = tuple(int(d) for d in tensor.shape)
        while len(got) > len(shape) and got[-1] == 1:
            got = got[:-1]
        if got != shape:
            raise ConfigError(
                f"{gguf.path}: tensor '{name}' fails validation (size mismatch: shape {list(got)}, the "
                f"metadata implies {list(shape)}); the file is corrupt or not a llama model",
                field="path",
            )
        validate_tensor(tensor, gguf.path, file_size)


def _rope_cache(hyper: LlamaHyper, positions: int) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    inv_freq = 1.0 / (hyper.rope_theta ** (np.arange(0, hyper.head_dim, 2, dtype=np.float64) / hyper.head_dim))
    angles = np.outer(np.arange(positions, dtype=np.float64), inv_freq)
    return np.cos(angles), np.sin(angles)


def build_llama_graph(
    gguf: GGUFFile,
    *,
    dtype: str = "float32",
    accuracy_level: int = 4,
    progress: Callable[[str], None] | None = None,
) -> onnx.ModelProto:
    """Convert an opened GGUF llama model into an ONNX ``ModelProto`` (layout A).

    :param dtype: activation type: ``"float32"`` (CPU, exact) or ``"float16"`` (CUDA variant;
        GroupQueryAttention has fp16/bf16 CUDA kernels only).
    :param accuracy_level: MatMulNBits ``accuracy_level`` baked into the graph (4 = int8
        activations on CPU, the speed setting; runtimes may rewrite it, see ``_session``).
    :param progress: called with a short label after each converted unit of work.
    """
    import numpy as np
    from onnx import TensorProto, helper

    if dtype not in ("float32", "float16"):
        raise ConfigError(f"dtype must be 'float32' or 'float16', not {dtype!r}", field="dtype")
    hyper = llama_hyper(gguf)
    tick = progress or (lambda _label: None)
    validate_llama(gguf, hyper)
    for name in gguf.tensors:
        parts = name.split(".")
        if parts[0] == "blk" and (len(parts) != 4 or parts[2] not in _LAYER_TENSORS):
            raise ConfigError(
                f"{gguf.path}: tensor '{name}' is not part of a llama layer the converter knows", field="path"
            )
    g = _Graph(dtype=dtype, accuracy_level=accuracy_level)
    elem = TensorProto.FLOAT16 if dtype == "float16" else TensorProto.FLOAT
    kv_shape: list[str | int] = ["batch_size", hyper.kv_heads, "past_sequence_length", hyper.head_dim]
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", 1, hyper.vocab])]
    for i in range(hyper.layers):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", elem, kv_shape))
            outputs.append(
                helper.make_tensor_value_info(
                    f"present.{i}.{kind}", elem, ["batch_size", hyper.kv_heads, "total_sequence_length", hyper.head_dim]
                )
            )

    # seqlens_k = sum(mask) - 1 and total_sequence_length = mask.shape[1], genai style.
    one = g.const("const.one", np.array([1], np.int64))
    mask_sum = g.op("ReduceSum", ["attention_mask", g.const("const.axis1", np.array([1], np.int64))], keepdims=0)[0]
    seqlens_k = g.op("Cast", [g.op("Sub", [mask_sum, one])[0]], to=TensorProto.INT32)[0]
    mask_len = g.op("Shape", ["attention_mask"], start=1, end=2)[0]
    total_len = g.op(
        "Cast", [g.op("Squeeze", [mask_len, g.const("const.axis0", np.array([0], np.int64))])[0]], to=TensorProto.INT32
    )[0]
    cos, sin = _rope_cache(hyper, hyper.context_length)
    cos_name, sin_name = g.float_const("cos_cache", cos), g.float_const("sin_cache", sin)

    embd = embedding_table(gguf.tensor("token_embd.weight"), gguf.path)
    if embd.bits:
        assert embd.scales is not None
        x = g.op(
            "GatherBlockQuantized",
            [g.const("embed.qweight", embd.data), "input_ids", g.float_const("embed.scales", embd.scales)],
            domain="com.microsoft",
            bits=embd.bits,
            block_size=32,
            quantize_axis=1,
            gather_axis=0,
        )[0]
    else:
        x = g.op("Gather", [g.float_const("embed.weight", embd.data), "input_ids"], axis=0)[0]
    tick("embedding")

    eps = hyper.rms_eps
    residual = x
    normed = g.op(
        "SimplifiedLayerNormalization",
        [x, g.float_const("blk.0.attn_norm", gguf.tensor("blk.0.attn_norm.weight").data)],
        axis=-1,
        epsilon=eps,
        stash_type=1,
    )[0]
    hidden_out = None
    for i in range(hyper.layers):
        p = f"blk.{i}"
        if i > 0:
            assert hidden_out is not None
            normed, _, _, residual = g.op(
                "SkipSimplifiedLayerNormalization",
                [hidden_out, residual, g.float_const(f"{p}.attn_norm", gguf.tensor(f"{p}.attn_norm.weight").data)],
                4,
                domain="com.microsoft",
                epsilon=eps,
            )
        q, k, v = (linear_weight(gguf.tensor(f"{p}.attn_{n}.weight"), gguf.path) for n in ("q", "k", "v"))
        fused = concat_linear([q, k, v])
        if fused is not None:
            qkv = g.linear(normed, fused, f"{p}.attn_qkv")
        else:
            qkv = g.op(
                "Concat",
                [g.linear(normed, w, f"{p}.attn_{n}") for w, n in zip((q, k, v), "qkv", strict=False)],
                axis=-1,
            )[0]
        attn = g.op(
            "GroupQueryAttention",
            [
                qkv,
                "",
                "",
                f"past_key_values.{i}.key",
                f"past_key_values.{i}.value",
                seqlens_k,
                total_len,
                cos_name,
                sin_name,
            ],
            [g.name("attn"), f"present.{i}.key", f"present.{i}.value"],
            domain="com.microsoft",
            num_heads=hyper.heads,
            kv_num_heads=hyper.kv_heads,
            do_rotary=1,
            rotary_interleaved=1,
            scale=float(1.0 / np.sqrt(hyper.head_dim)),
        )[0]
        o = g.linear(attn, linear_weight(gguf.tensor(f"{p}.attn_output.weight"), gguf.path), f"{p}.attn_output")
        normed, _, _, residual = g.op(
            "SkipSimplifiedLayerNormalization",
            [o, residual, g.float_const(f"{p}.ffn_norm", gguf.tensor(f"{p}.ffn_norm.weight").data)],
            4,
            domain="com.microsoft",
            epsilon=eps,
        )
        gate_w, up_w = (linear_weight(gguf.tensor(f"{p}.ffn_{n}.weight"), gguf.path) for n in ("gate", "up"))
        gate_up = concat_linear([gate_w, up_w])
        if gate_up is not None:
            gate, up = g.op("Split", [g.linear(normed, gate_up, f"{p}.ffn_gate_up")], 2, axis=-1, num_outputs=2)
        else:
            gate, up = g.linear(normed, gate_w, f"{p}.ffn_gate"), g.linear(normed, up_w, f"{p}.ffn_up")
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])[0]])[0], up])[0]
        hidden_out = g.linear(act, linear_weight(gguf.tensor(f"{p}.ffn_down.weight"), gguf.path), f"{p}.ffn_down")
        tick(f"layer {i}")

    assert hidden_out is not None
    final, _, _, _ = g.op(
        "SkipSimplifiedLayerNormalization",
        [hidden_out, residual, g.float_const("output_norm", gguf.tensor("output_norm.weight").data)],
        4,
        domain="com.microsoft",
        epsilon=eps,
    )
    # Only the last position needs logits: gather it before the LM head.
    seq_len = g.op("Shape", ["input_ids"], start=1, end=2)[0]
    last = g.op("Gather", [final, g.op("Sub", [seq_len, one])[0]], axis=1)[0]
    head_tensor = gguf.tensors.get("output.weight") or gguf.tensor("token_embd.weight")
    head = linear_weight(head_tensor, gguf.path)
    logits = g.linear(last, head, "lm_head")
    if dtype == "float16":
        g.op("Cast", [logits], ["logits"], to=TensorProto.FLOAT)
    else:
        g.op("Identity", [logits], ["logits"])
    tick("lm head")

    graph = helper.make_graph(g.nodes, "byom_onnx_llama", inputs, outputs, initializer=g.initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)],
        producer_name="byom-onnx",
    )
    # onnx >= 1.23 writes IR 14, which onnxruntime 1.31 refuses to load; 10 covers opset 21.
    model.ir_version = 10
    return model
