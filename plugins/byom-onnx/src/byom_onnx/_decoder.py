"""One decoder adapter over the three graph styles users bring.

- **gqa** (layout A: onnxruntime-genai folders and converted GGUF): one ``(B, kv, max_len,
  hd)`` OrtValue per layer for K and for V, bound as both ``past_key_values.i.*`` and
  ``present.i.*``; GroupQueryAttention writes the new rows in place. Per step only
  ``input_ids`` and ``attention_mask`` are rebound on the IOBinding, which lives for the
  whole call.
- **optimum** (layout B): the cache grows; ``present.*`` outputs are left to onnxruntime and
  fed back as OrtValues next step (never through numpy); ``position_ids`` are supplied.
- **merged** (layout C): as optimum, plus ``use_cache_branch``.

Layer count, KV heads and head size come from the graph's input shapes, falling back to the
folder's config only for symbolic dimensions. KV buffers are pooled per model: a call takes a
free state (or makes one), so concurrent calls never share a cache, and one session serves
them all (``InferenceSession.run`` is thread-safe).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from byom_sdk import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import onnxruntime

__all__ = ["DecoderGraph", "DecoderRunner", "inspect_decoder"]

Style = Literal["gqa", "optimum", "merged"]
_PAST = re.compile(r"^past_key_values\.(\d+)\.(key|value)$")
_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(bfloat16)": "bfloat16"}


@dataclass(frozen=True)
class DecoderGraph:
    """What the adapter learned from a decoder graph's inputs and outputs."""

    style: Style
    layers: int
    kv_heads: int
    head_dim: int
    kv_dtype: str
    vocab: int | None
    has_position_ids: bool
    logits_last_only: bool
    present_key: str = "present.%d.key"
    present_value: str = "present.%d.value"


def _int_dim(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def inspect_decoder(
    session: onnxruntime.InferenceSession,
    *,
    label: str,
    op_types: set[str] | frozenset[str] = frozenset(),
    config: dict[str, Any] | None = None,
) -> DecoderGraph:
    """Read the decoder's signature from the graph; ``config`` fills symbolic dimensions."""
    config = config or {}
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if "input_ids" not in inputs or "logits" not in outputs:
        raise ConfigError(f"{label}: not a decoder graph (needs input 'input_ids' and output 'logits')", field="path")
    layers: set[int] = set()
    kv_heads = head_dim = None
    kv_dtype = "float32"
    for name, meta in inputs.items():
        match = _PAST.match(name)
        if match:
            layers.add(int(match.group(1)))
            shape = list(meta.shape)
            kv_heads = kv_heads or _int_dim(shape[1] if len(shape) > 1 else None)
            head_dim = head_dim or _int_dim(shape[3] if len(shape) > 3 else None)
            kv_dtype = _ORT_TYPES.get(meta.type, kv_dtype)
    if not layers:
        raise ConfigError(
            f"{label}: decoder graph has no past_key_values.N.key/value inputs (export with past)", field="path"
        )
    if sorted(layers) != list(range(len(layers))):
        raise ConfigError(f"{label}: past_key_values layer indices are not contiguous: {sorted(layers)}", field="path")
    kv_heads = kv_heads or _int_dim(config.get("num_key_value_heads")) or _int_dim(config.get("num_attention_heads"))
    if head_dim is None:
        head_dim = _int_dim(config.get("head_dim") or config.get("head_size"))
        hidden, heads = _int_dim(config.get("hidden_size")), _int_dim(config.get("num_attention_heads"))
        if head_dim is None and hidden and heads:
            head_dim = hidden // heads
    if kv_heads is None or head_dim is None:
        raise ConfigError(f"{label}: cannot tell KV heads / head size from the graph or its config.json", field="path")
    if "use_cache_branch" in inputs:
        style: Style = "merged"
    elif "GroupQueryAttention" in op_types or ("position_ids" not in inputs and "present.0.key" in outputs):
        style = "gqa"
    else:
        style = "optimum"
    logits_shape = list(outputs["logits"].shape)
    return DecoderGraph(
        style=style,
        layers=len(layers),
        kv_heads=kv_heads,
        head_dim=head_dim,
        kv_dtype=kv_dtype,
        vocab=_int_dim(logits_shape[-1]) if logits_shape else None,
        has_position_ids="position_ids" in inputs,
        logits_last_only=len(logits_shape) == 3 and logits_shape[1] == 1,
    )


class _KVState:
    """Pre-allocated shared past/present buffers for one in-flight call (gqa style)."""

    def __init__(self, graph: DecoderGraph, max_len: int, device: str) -> None:
        import numpy as np
        import onnxruntime as ort

        shape = [1, graph.kv_heads, max_len, graph.head_dim]
        np_type = np.float16 if graph.kv_dtype == "float16" else np.float32
        self.keys = [ort.OrtValue.ortvalue_from_shape_and_type(shape, np_type, device, 0) for _ in range(graph.layers)]
        self.values = [
            ort.OrtValue.ortvalue_from_shape_and_type(shape, np_type, device, 0) for _ in range(graph.layers)
        ]
        self.logits: Any = None


class DecoderRunner:
    """Runs prefill and decode steps for one decoder session.

    :param max_len: KV buffer length (the context limit for gqa graphs).
    :param device: ``"cpu"`` or ``"cuda"``: where KV buffers live.
    """

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        graph: DecoderGraph,
        *,
        max_len: int,
        device: str = "cpu",
    ) -> None:
        self.session = session
        self.graph = graph
        self.max_len = max_len
        self.device = device
        self._pool: list[_KVState] = []
        self._pool_lock = threading.Lock()
        self.max_idle = 2

    def _acquire(self) -> _KVState:
        with self._pool_lock:
            if self._pool:
                return self._pool.pop()
        return _KVState(self.graph, self.max_len, self.device)

    def _release(self, state: _KVState) -> None:
        # Keep a couple of idle caches for reuse; a burst of concurrent calls must not pin
        # one max_len cache per past caller (94 MB each for SmolLM2 at 2048).
        with self._pool_lock:
            if len(self._pool) < self.max_idle:
                self._pool.append(state)

    def generate_logits(self, prompt_ids: list[int]) -> Generator[np.ndarray, int | None, None]:
        """Prefill ``prompt_ids`` in one call, then yield last-position logits per step.

        The caller sends each chosen token back with ``send``; the generator yields the
        logits for the next position. Stopping early releases the KV state.
        """
        if self.graph.style == "gqa":
            return self._run_gqa(prompt_ids)
        return self._run_growing(prompt_ids)

    def _run_gqa(self, prompt_ids: list[int]) -> Generator[np.ndarray, int | None, None]:
        import numpy as np
        import onnxruntime as ort

        graph = self.graph
        state = self._acquire()
        try:
            fixed_logits = graph.logits_last_only and bool(graph.vocab)
            if fixed_logits and state.logits is None:
                state.logits = ort.OrtValue.ortvalue_from_shape_and_type([1, 1, graph.vocab], np.float32, "cpu", 0)

            def new_binding(session: onnxruntime.InferenceSession) -> Any:
                made = session.io_binding()
                for i in range(graph.layers):
                    made.bind_ortvalue_input(f"past_key_values.{i}.key", state.keys[i])
                    made.bind_ortvalue_input(f"past_key_values.{i}.value", state.values[i])
                    made.bind_ortvalue_output(graph.present_key % i, state.keys[i])
                    made.bind_ortvalue_output(graph.present_value % i, state.values[i])
                if fixed_logits:
                    made.bind_ortvalue_output("logits", state.logits)
                else:
                    made.bind_output("logits", "cpu")
                return made

            session = self.session
            binding = new_binding(session)
            ids = np.asarray([prompt_ids], dtype=np.int64)
            total = len(prompt_ids)
            while True:
                if not fixed_logits and total > len(prompt_ids):
                    # (B, S, V) logits change shape between prefill and decode: a binding keeps
                    # the previous run's output, so rebind the outputs (KV stays shared).
                    binding = new_binding(session)
                binding.bind_cpu_input("input_ids", ids)
                binding.bind_cpu_input("attention_mask", np.ones((1, total), dtype=np.int64))
                session.run_with_iobinding(binding)
                out = state.logits if fixed_logits else binding.get_outputs()[-1]  # bound last
                # .numpy() on a bound CPU buffer is a view: copy before the next step overwrites it.
                logits = out.numpy()[0, -1].copy()
                token = yield logits
                if token is None:
                    return
                if total >= self.max_len:
                    raise ConfigError(f"context of {self.max_len} tokens is full", field="max_context")
                ids = np.asarray([[token]], dtype=np.int64)
                total += 1
        finally:
            self._release(state)

    def _run_growing(self, prompt_ids: list[int]) -> Generator[np.ndarray, int | None, None]:
        import numpy as np
        import onnxruntime as ort

        graph = self.graph
        np_type = np.float16 if graph.kv_dtype == "float16" else np.float32
        empty = np.zeros((1, graph.kv_heads, 0, graph.head_dim), dtype=np_type)
        past: list[Any] = [ort.OrtValue.ortvalue_from_numpy(empty) for _ in range(2 * graph.layers)]
        output_names = [o.name for o in self.session.get_outputs()]
        present = [
            graph.present_key % (i // 2) if i % 2 == 0 else graph.present_value % (i // 2)
            for i in range(2 * graph.layers)
        ]
        logits_index = output_names.index("logits")
        present_index = [output_names.index(n) for n in present]
        binding = self.session.io_binding()
        ids = np.asarray([prompt_ids], dtype=np.int64)
        past_len = 0
        while True:
            # Outputs grow every step: let onnxruntime allocate them afresh (a binding keeps
            # the previous run's OrtValues otherwise), then feed them back as inputs.
            binding.clear_binding_outputs()
            for name in output_names:
                binding.bind_output(name, self.device)
            seq = ids.shape[1]
            binding.bind_cpu_input("input_ids", ids)
            binding.bind_cpu_input("attention_mask", np.ones((1, past_len + seq), dtype=np.int64))
            if graph.has_position_ids:
                binding.bind_cpu_input("position_ids", np.arange(past_len, past_len + seq, dtype=np.int64)[None, :])
            if graph.style == "merged":
                binding.bind_cpu_input("use_cache_branch", np.array([past_len > 0]))
            for i in range(graph.layers):
                binding.bind_ortvalue_input(f"past_key_values.{i}.key", past[2 * i])
                binding.bind_ortvalue_input(f"past_key_values.{i}.value", past[2 * i + 1])
            self.session.run_with_iobinding(binding)
            outs = binding.get_outputs()
            past = [outs[j] for j in present_index]
            logits = outs[logits_index].numpy()[0, -1]
            token = yield logits
            if token is None:
                return
            past_len += seq
            if past_len >= self.max_len:
                raise ConfigError(f"context of {self.max_len} tokens is full", field="max_context")
            ids = np.asarray([[token]], dtype=np.int64)
