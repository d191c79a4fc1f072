"""CUDA check for byom-onnx (UNVERIFIED: written on a machine without a GPU).

Run on a machine with an NVIDIA GPU, onnxruntime-gpu and the CUDA/cuDNN libraries it was built
for (e.g. ``pip install nvidia-cublas-cu13 nvidia-cudnn-cu13 ...``)::

    python bench/onnx_cuda_check.py

It converts SmolLM2-135M-Instruct Q4_1 into the fp16 (GroupQueryAttention on CUDA) variant,
opens it with ``device="cuda"`` and no CPU fallback, reports the session's providers, the
greedy answer to "What is the capital of France?", prefill/decode tokens/s with CUDA graphs
off (the provider's path) and on (this script's static-buffer decode loop), the aggregate
tokens/s of 8 concurrent streams (continuous batching), and which execution provider ran each
node (from an onnxruntime profile), flagging CPU fallbacks. Exit status: 0 all on CUDA, 1 CPU
fallbacks inside the graph, 2 CUDA unusable.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np


def main() -> int:
    from byom_onnx import OnnxModel, cuda_status, smollm2_path
    from byom_onnx._session import open_session

    usable, reason = cuda_status()
    print(f"cuda_status: usable={usable}: {reason}")
    if not usable:
        return 2
    model = OnnxModel(smollm2_path(), device="cuda", allow_cpu_fallback=False)
    print("session providers:", model.handle.session.get_providers(), "|", model.handle.note)
    reply = model.generate(
        [{"role": "user", "content": "What is the capital of France?"}], temperature=0, max_tokens=30
    )
    print("answer:", repr(reply.text))

    ids = model.tokenizer.encode("The quick brown fox jumps over the lazy dog. " * 13)[:128]
    for run in range(3):
        steps = model.decoder.generate_logits(ids)
        t0 = time.perf_counter()
        logits = next(steps)
        prefill = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(127):
            logits = steps.send(int(np.argmax(logits)))
        decode = time.perf_counter() - t0
        steps.close()
        print(f"run {run}: prefill {128 / prefill:.0f} tok/s, decode {127 / decode:.1f} tok/s")

    for run in range(3):
        print(f"CUDA graphs on, run {run}: decode {cuda_graph_decode(model, ids, 127):.1f} tok/s")
    print(f"8 concurrent streams (continuous batching): {concurrent_streams(model, 8, 64):.1f} tok/s aggregate")

    prefix = os.path.join(tempfile.mkdtemp(), "cuda")
    handle = open_session(
        str(model.layout.model_file), label="profile", device="cuda", allow_cpu_fallback=False, profile_prefix=prefix
    )
    model.decoder.session = handle.session
    steps = model.decoder.generate_logits(ids)
    logits = next(steps)
    for _ in range(8):
        logits = steps.send(int(np.argmax(logits)))
    steps.close()
    trace = json.loads(Path(handle.session.end_profiling()).read_text())
    placement: Counter[tuple[str, str]] = Counter()
    for event in trace:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            placement[(event["args"]["op_name"], event["args"].get("provider", "?"))] += 1
    print("\nnode placement (op, provider): kernel launches")
    cpu_ops = set()
    for (op, provider), count in sorted(placement.items()):
        print(f"  {op:36s} {provider:28s} {count}")
        if provider == "CPUExecutionProvider":
            cpu_ops.add(op)
    print("CPU fallbacks inside the graph:", sorted(cpu_ops) or "none")
    return 0 if not cpu_ops else 1


def cuda_graph_decode(model, ids: list[int], steps: int) -> float:
    """Decode tokens/s with the CUDA graph captured once and replayed: every decode input lives
    in a fixed device buffer (``input_ids`` (1, 1), a static ``attention_mask`` of ``max_len``
    whose ones mark the valid positions, as onnxruntime-genai does), KV shared past/present."""
    import onnxruntime as ort

    graph, max_len = model.decoder.graph, model.decoder.max_len
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(model.layout.model_file),
        options,
        providers=[("CUDAExecutionProvider", {"enable_cuda_graph": "1"}), "CPUExecutionProvider"],
    )
    kv_type = np.float16 if graph.kv_dtype == "float16" else np.float32
    shape = [1, graph.kv_heads, max_len, graph.head_dim]
    kv = [ort.OrtValue.ortvalue_from_shape_and_type(shape, kv_type, "cuda", 0) for _ in range(2 * graph.layers)]
    logits = ort.OrtValue.ortvalue_from_shape_and_type([1, 1, graph.vocab], np.float32, "cuda", 0)
    token = ort.OrtValue.ortvalue_from_numpy(np.zeros((1, 1), np.int64), "cuda", 0)
    mask_host = np.zeros((1, max_len), np.int64)
    mask = ort.OrtValue.ortvalue_from_numpy(mask_host, "cuda", 0)

    def bind(binding, ids_value, mask_value) -> None:
        for i in range(graph.layers):
            for j, kind in enumerate(("key", "value")):
                binding.bind_ortvalue_input(f"past_key_values.{i}.{kind}", kv[2 * i + j])
                binding.bind_ortvalue_output(f"present.{i}.{kind}", kv[2 * i + j])
        binding.bind_ortvalue_input("input_ids", ids_value)
        binding.bind_ortvalue_input("attention_mask", mask_value)
        binding.bind_ortvalue_output("logits", logits)

    prefill = session.io_binding()
    bind(
        prefill,
        ort.OrtValue.ortvalue_from_numpy(np.asarray([ids], np.int64), "cuda", 0),
        ort.OrtValue.ortvalue_from_numpy(np.ones((1, len(ids)), np.int64), "cuda", 0),
    )
    uncaptured = ort.RunOptions()
    uncaptured.add_run_config_entry("gpu_graph_id", "-1")  # prompts have other shapes: never captured
    session.run_with_iobinding(prefill, uncaptured)
    decode = session.io_binding()
    bind(decode, token, mask)
    captured = ort.RunOptions()
    captured.add_run_config_entry("gpu_graph_id", "1")
    total = len(ids)
    start = time.perf_counter()
    for _ in range(steps):
        next_id = int(np.argmax(logits.numpy()[0, -1]))
        token.update_inplace(np.asarray([[next_id]], np.int64))
        total += 1
        mask_host[0, :total] = 1
        mask.update_inplace(mask_host)
        session.run_with_iobinding(decode, captured)
    return steps / (time.perf_counter() - start)


def concurrent_streams(model, streams: int, tokens: int) -> float:
    import threading

    def one(i: int) -> None:
        model.generate(
            f"Write a story number {i} about the sea.", temperature=0, max_tokens=tokens, extra={"ignore_eos": True}
        )

    threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return streams * tokens / (time.perf_counter() - start)


if __name__ == "__main__":
    sys.exit(main())
