"""CUDA check for byom-onnx (UNVERIFIED: written on a machine without a GPU).

Run on a machine with an NVIDIA GPU, onnxruntime-gpu and the CUDA/cuDNN libraries it was built
for (e.g. ``pip install nvidia-cublas-cu13 nvidia-cudnn-cu13 ...``)::

    python bench/onnx_cuda_check.py

It converts SmolLM2-135M-Instruct Q4_1 into the fp16 (GroupQueryAttention on CUDA) variant,
opens it with ``device="cuda"`` and no CPU fallback, reports the session's providers, the
greedy answer to "What is the capital of France?", prefill/decode tokens/s, and which
execution provider ran each node (from an onnxruntime profile), flagging CPU fallbacks.
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


if __name__ == "__main__":
    sys.exit(main())
