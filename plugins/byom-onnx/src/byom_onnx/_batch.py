"""Continuous batching for GroupQueryAttention decoders (layout A and converted GGUF).

One scheduler thread per model owns a batched KV cache: per layer one ``(max_batch, kv_heads,
max_len, head_dim)`` buffer for K and one for V, each slot the cache of one sequence. A step
of the loop

1. drops sequences whose reader went away (their slot is free at once);
2. admits waiting requests into free slots: tokenises the prompt and prefills it alone
   (batch 1, bound to that slot's part of the buffers), then samples its first token;
3. runs **one decode step for every active sequence together**: rows ``0..hi`` of the
   buffers, each row with its own position (``attention_mask`` row sums give GQA its
   per-row ``seqlens_k``, hence RoPE positions and attention lengths), then samples each
   row with its own settings and applies its own stop rules.

Rows are never moved: a finished sequence leaves a hole that the next request fills (the
lowest free slot is taken), and a hole inside ``0..hi`` runs as a one-token dummy row, which
costs little next to the weights every row shares. Each row's arithmetic does not depend on
the other rows, so a sequence produces the same tokens alone or in a batch.

Buffers are bound by address (``IOBinding.bind_input(..., buffer_ptr)``), the same way on
CPU (numpy memory; pages are committed only as sequences grow) and CUDA (device
``OrtValue`` memory). Bindings are built once per batch width and per slot and reused.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from byom_sdk import ByomError, ModelError

from ._engine import Sequence, choose_tokens

if TYPE_CHECKING:
    import numpy as np
    import onnxruntime

    from ._decoder import DecoderGraph

__all__ = ["BatchEngine"]


class _KVBuffers:
    """The batched cache: per layer K and V buffers, addressed by slot."""

    def __init__(self, graph: DecoderGraph, max_batch: int, max_len: int, device: str) -> None:
        import numpy as np

        self.dtype: Any = np.float16 if graph.kv_dtype == "float16" else np.float32
        self.device = device
        self.slot_shape = [graph.kv_heads, max_len, graph.head_dim]
        self.slot_bytes = graph.kv_heads * max_len * graph.head_dim * np.dtype(self.dtype).itemsize
        shape = [max_batch, *self.slot_shape]
        self._keep: list[Any] = []
        self.keys: list[int] = []
        self.values: list[int] = []
        for _ in range(graph.layers):
            for target in (self.keys, self.values):
                if device == "cpu":
                    # np.zeros maps fresh pages lazily: an idle slot or the unused tail of a
                    # slot's max_len costs address space, not memory.
                    array = np.zeros(shape, dtype=self.dtype)
                    self._keep.append(array)
                    target.append(int(array.ctypes.data))
                else:
                    import onnxruntime as ort

                    value = ort.OrtValue.ortvalue_from_shape_and_type(shape, self.dtype, device, 0)
                    self._keep.append(value)
                    target.append(int(value.data_ptr()))


class BatchEngine:
    """The scheduler thread and its batched cache (see the module docstring).

    :param prepare: fills a :class:`Sequence` from its request (runs on the scheduler thread).
    :param max_batch: slots, i.e. sequences decoded together; more requests wait in order.
    """

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        graph: DecoderGraph,
        *,
        max_len: int,
        max_batch: int,
        device: str,
        prepare: Callable[[Sequence], None],
        eos_ids: frozenset[int],
        label: str,
    ) -> None:
        self.session = session
        self.graph = graph
        self.max_len = max_len
        self.max_batch = max_batch
        self.device = device
        self.prepare = prepare
        self.eos_ids = eos_ids
        self.label = label
        self._cond = threading.Condition(threading.Lock())
        self._pending: deque[Sequence] = deque()
        self._active: dict[int, Sequence] = {}
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._kv: _KVBuffers | None = None
        self._decode_bindings: dict[int, Any] = {}
        self._prefill_bindings: dict[int, Any] = {}
        self._logits: Any = None
        self._vocab: int | None = graph.vocab
        #: decode steps run and rows in them, for benchmarks and tests.
        self.steps = 0
        self.rows = 0

    # -- the callers' side (any thread, never blocks on model work) ------------------------

    def submit(self, seq: Sequence) -> None:
        seq.on_cancel = self._wake
        with self._cond:
            if self._stopping:
                raise ByomError(f"model '{self.label}' is closed")
            self._pending.append(seq)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="byom-onnx-batch", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify()

    @property
    def active(self) -> int:
        """Sequences holding a slot now."""
        with self._cond:
            return len(self._active)

    @property
    def alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stop(self) -> None:
        """Ask the loop to end after the current step (non-blocking)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def close(self) -> None:
        self.stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._kv = None
        self._decode_bindings.clear()
        self._prefill_bindings.clear()

    # -- the scheduler thread --------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._pending and not self._active:
                    self._cond.wait()
                if self._stopping:
                    break
                for slot in [s for s, seq in self._active.items() if seq.cancelled]:
                    del self._active[slot]
                free = self.max_batch - len(self._active)
                admitted: list[Sequence] = []
                while self._pending and len(admitted) < free:
                    seq = self._pending.popleft()
                    if not seq.cancelled:
                        admitted.append(seq)
            try:
                for seq in admitted:
                    self._admit(seq)
                if self._active:
                    self._step()
            except Exception as exc:  # noqa: BLE001 - a defect here must not strand every caller
                with self._cond:
                    stranded = [*self._active.values(), *(s for s in admitted if s.slot < 0)]
                    self._active.clear()
                for seq in stranded:
                    seq.fail(self._model_error(exc))
        closed = ByomError(f"model '{self.label}' is closed")
        with self._cond:
            left = [*self._active.values(), *self._pending]
            self._active.clear()
            self._pending.clear()
        for seq in left:
            seq.fail(closed)

    def _free_slot(self) -> int:
        return next(slot for slot in range(self.max_batch) if slot not in self._active)

    def _admit(self, seq: Sequence) -> None:
        try:
            self.prepare(seq)
        except BaseException as exc:  # noqa: BLE001 - a bad request fails its own caller only
            seq.fail(self._model_error(exc) if isinstance(exc, Exception) else exc)
            return
        slot = self._free_slot()
        try:
            logits = self._prefill(slot, seq.prompt_ids)
        except Exception as exc:  # noqa: BLE001 - onnxruntime failures reach the caller typed
            seq.fail(self._model_error(exc))
            return
        seq.slot, seq.length = slot, len(seq.prompt_ids)
        with self._cond:
            self._active[slot] = seq
        self._accept([seq], logits[None, :])

    def _step(self) -> None:
        import numpy as np

        with self._cond:
            active = dict(self._active)
        hi = max(active) + 1
        ids = np.zeros((hi, 1), dtype=np.int64)
        lengths = np.ones(hi, dtype=np.int64)  # holes: a one-token dummy row
        for slot, seq in active.items():
            ids[slot, 0] = seq.next_token
            lengths[slot] = seq.length + 1
        mask = (np.arange(int(lengths.max()))[None, :] < lengths[:, None]).astype(np.int64)
        binding = self._decode_binding(hi)
        binding.bind_cpu_input("input_ids", ids)
        binding.bind_cpu_input("attention_mask", mask)
        try:
            self.session.run_with_iobinding(binding)
        except Exception as exc:  # noqa: BLE001 - every sequence in the step fails, typed
            error = self._model_error(exc)
            with self._cond:
                for slot in active:
                    self._active.pop(slot, None)
            for seq in active.values():
                seq.fail(error)
            return
        self.steps += 1
        self.rows += len(active)
        slots = sorted(active)
        for slot in slots:
            active[slot].length += 1
        self._accept([active[s] for s in slots], self._logits[slots, 0])

    def _accept(self, seqs: list[Sequence], logits: np.ndarray) -> None:
        finished = []
        for seq, choice in zip(seqs, choose_tokens(seqs, logits, self.label), strict=True):
            if isinstance(choice, ModelError):
                seq.fail(choice)
                finished.append(seq)
                continue
            try:
                done = seq.accept(choice, self.eos_ids)
            except Exception as exc:  # noqa: BLE001 - e.g. the grammar rejecting a token: this row only
                seq.fail(self._model_error(exc))
                done = True
            if done:
                finished.append(seq)
        if finished:
            with self._cond:
                for seq in finished:
                    if self._active.get(seq.slot) is seq:
                        del self._active[seq.slot]

    def _model_error(self, exc: Exception) -> ByomError:
        if isinstance(exc, ByomError):
            return exc
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        error = ModelError(f"model '{self.label}': onnxruntime failed: {first}", provider="onnx")
        error.__cause__ = exc
        return error

    # -- buffers and bindings ----------------------------------------------------------------

    def _buffers(self) -> _KVBuffers:
        if self._kv is None:
            self._kv = _KVBuffers(self.graph, self.max_batch, self.max_len, self.device)
        return self._kv

    def _bind_kv(self, binding: Any, first: int, rows: int) -> None:
        kv = self._buffers()
        graph = self.graph
        shape = [rows, *kv.slot_shape]
        offset = first * kv.slot_bytes
        for i in range(graph.layers):
            for past, present, base in (
                (f"past_key_values.{i}.key", graph.present_key % i, kv.keys[i]),
                (f"past_key_values.{i}.value", graph.present_value % i, kv.values[i]),
            ):
                binding.bind_input(past, kv.device, 0, kv.dtype, shape, base + offset)
                binding.bind_output(present, kv.device, 0, kv.dtype, shape, base + offset)

    def _logits_buffer(self, vocab: int) -> Any:
        import numpy as np

        if self._logits is None:
            self._vocab = vocab
            self._logits = np.zeros((self.max_batch, 1, vocab), dtype=np.float32)
        return self._logits

    def _decode_binding(self, hi: int) -> Any:
        import numpy as np

        binding = self._decode_bindings.get(hi)
        if binding is None:
            assert self._vocab is not None  # known from the graph or the first prefill
            logits = self._logits_buffer(self._vocab)
            binding = self.session.io_binding()
            self._bind_kv(binding, 0, hi)
            binding.bind_output("logits", "cpu", 0, np.float32, [hi, 1, self._vocab], int(logits.ctypes.data))
            self._decode_bindings[hi] = binding
        return binding

    def _prefill(self, slot: int, prompt_ids: list[int]) -> np.ndarray:
        import numpy as np

        ids = np.asarray([prompt_ids], dtype=np.int64)
        mask = np.ones((1, len(prompt_ids)), dtype=np.int64)
        if self.graph.logits_last_only and self._vocab:
            logits = self._logits_buffer(self._vocab)
            binding = self._prefill_bindings.get(slot)
            if binding is None:
                binding = self.session.io_binding()
                self._bind_kv(binding, slot, 1)
                # The decode rows' buffer, row `slot`: free until this sequence decodes.
                address = int(logits.ctypes.data) + slot * logits.strides[0]
                binding.bind_output("logits", "cpu", 0, np.float32, [1, 1, self._vocab], address)
                self._prefill_bindings[slot] = binding
            binding.bind_cpu_input("input_ids", ids)
            binding.bind_cpu_input("attention_mask", mask)
            self.session.run_with_iobinding(binding)
            row: np.ndarray = logits[slot, 0].copy()
            return row
        # (B, S, V) logits change shape with the prompt: a fresh binding, outputs allocated.
        binding = self.session.io_binding()
        self._bind_kv(binding, slot, 1)
        binding.bind_output("logits", "cpu")
        binding.bind_cpu_input("input_ids", ids)
        binding.bind_cpu_input("attention_mask", mask)
        self.session.run_with_iobinding(binding)
        out = binding.get_outputs()[-1].numpy()
        self._logits_buffer(int(out.shape[-1]))
        last: np.ndarray = np.array(out[0, -1], dtype=np.float32)
        return last
