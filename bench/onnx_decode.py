"""Prefill and decode tokens/s for SmolLM2-135M-Instruct Q4_1: byom-onnx vs onnxruntime-genai
vs llama.cpp. The two comparisons run in their own environments, never in the test path:

    uv venv bench/.env-genai && uv pip install --python bench/.env-genai/bin/python onnxruntime-genai numpy
    uv venv bench/.env-llama && CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" \\
        uv pip install --python bench/.env-llama/bin/python llama-cpp-python numpy   # ~10 min build

    # or, without uv:
    python -m venv bench/.env-llama && CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" \\
        bench/.env-llama/bin/pip install 'llama-cpp-python[server]' numpy

    python bench/onnx_decode.py [--threads 2] [--runs 3] [--exact] [--profile]

128-token prompt (the same ids for every runtime), 128 new tokens with EOS ignored, best of
``--runs`` after a warm-up. ``--profile`` writes an onnxruntime profile of one decode run and
prints the time per operator type.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np  # the only import the bench/.env-* workers need

PROMPT_TOKENS = 128
NEW_TOKENS = 128


def prompt_ids(tokenizer):
    text = "The quick brown fox jumps over the lazy dog while the river keeps flowing to the sea. " * 20
    ids = tokenizer.encode(text)
    return ids[:PROMPT_TOKENS]


def run_byom(model, ids):
    """(prefill seconds, decode seconds for NEW_TOKENS-1 steps) with greedy argmax."""
    steps = model.decoder.generate_logits(list(ids))
    start = time.perf_counter()
    logits = next(steps)
    prefill = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(NEW_TOKENS - 1):
        logits = steps.send(int(np.argmax(logits)))
    decode = time.perf_counter() - start
    steps.close()
    return prefill, decode


def run_genai(folder, ids, threads):
    import onnxruntime_genai as og

    # A private copy of the folder whose genai_config pins the thread count.
    work = Path(tempfile.mkdtemp())
    for item in Path(folder).iterdir():
        if item.name != "genai_config.json":
            (work / item.name).symlink_to(item)
    config = json.loads((Path(folder) / "genai_config.json").read_text())
    config["model"]["decoder"]["session_options"]["intra_op_num_threads"] = threads
    (work / "genai_config.json").write_text(json.dumps(config))
    model = og.Model(str(work))
    total = len(ids) + NEW_TOKENS

    def once():
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=total, min_length=total, do_sample=False)
        generator = og.Generator(model, params)
        start = time.perf_counter()
        generator.append_tokens(np.asarray([ids], dtype=np.int32))
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(NEW_TOKENS - 1):
            generator.generate_next_token()
        return prefill, time.perf_counter() - start

    return once


def run_llama_cpp(gguf_path, ids, threads):
    import llama_cpp

    llm = llama_cpp.Llama(str(gguf_path), n_ctx=512, n_threads=threads, n_threads_batch=threads, verbose=False)

    def once():
        llm.reset()
        start = time.perf_counter()
        llm.eval(ids)
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(NEW_TOKENS - 1):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
            llm.eval([int(np.argmax(logits))])
        return prefill, time.perf_counter() - start

    return once


def worker(kind, source, ids_file, threads, runs):
    """Runs inside bench/.env-<kind>: prints {"prefill": s, "decode": s} (best of runs)."""
    ids = json.loads(Path(ids_file).read_text())
    once = run_genai(source, ids, threads) if kind == "genai" else run_llama_cpp(source, ids, threads)
    print(json.dumps(dict(zip(("prefill", "decode"), best(once, runs), strict=True))))


def compare(kind, source, ids, threads, runs):
    """(prefill tok/s, decode tok/s) from the separate bench environment, or None."""
    python = Path(__file__).parent / f".env-{kind}" / "bin" / "python"
    if not python.exists():
        print(f"{kind}: bench/.env-{kind} not found; see the module docstring", file=sys.stderr)
        return None
    ids_file = Path(tempfile.mkdtemp()) / "ids.json"
    ids_file.write_text(json.dumps(list(ids)))
    cmd = [
        str(python),
        __file__,
        "--worker",
        kind,
        "--source",
        str(source),
        "--ids",
        str(ids_file),
        "--threads",
        str(threads),
        "--runs",
        str(runs),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"{kind}: worker failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return PROMPT_TOKENS / result["prefill"], (NEW_TOKENS - 1) / result["decode"]


def best(fn, runs):
    fn()  # warm-up
    results = [fn() for _ in range(runs)]
    return min(r[0] for r in results), min(r[1] for r in results)


def profile(folder, ids, threads):
    """Where decode time goes: per-operator kernel time of the decode steps (prefill excluded),
    and the share of wall time spent outside onnxruntime's run (Python loop, binding, sampling)."""
    from byom_onnx import OnnxModel
    from byom_onnx._session import open_session

    prefix = os.path.join(tempfile.mkdtemp(), "decode")
    model = OnnxModel(folder, threads=threads, device="cpu")
    handle = open_session(
        str(model.layout.model_file), label="profile", device="cpu", threads=threads, profile_prefix=prefix
    )
    model.decoder.session = handle.session
    _prefill, decode_wall = run_byom(model, ids)
    events = json.loads(Path(handle.session.end_profiling()).read_text())
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")
    prefill_end = runs[0][1]
    decode_run_us = sum(end - start for start, end in runs[1:])
    per_op: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and event["ts"] > prefill_end:
            per_op[event["args"]["op_name"]] += event["dur"]
    kernels = sum(per_op.values())
    steps = len(runs) - 1
    print(
        f"\ndecode profile: {steps} steps, {decode_wall / steps * 1e3:.2f} ms/token wall, "
        f"{decode_run_us / steps / 1e3:.2f} ms/token inside session.run, "
        f"{kernels / steps / 1e3:.2f} ms/token in kernels"
    )
    print(
        f"  outside session.run (Python loop, IOBinding, sampling, detokenisation): "
        f"{100 * (1 - decode_run_us / 1e6 / decode_wall):.1f} % of decode wall time"
    )
    for op, us in sorted(per_op.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {op:36s} {us / steps:8.0f} us/token  {100 * us / kernels:5.1f} % of kernel time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--exact", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--worker", choices=["genai", "llama"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--ids", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.source, args.ids, args.threads, args.runs)
        return

    from byom_onnx import OnnxModel, converted_gguf, smollm2_path

    gguf_path = smollm2_path()
    folder = converted_gguf(gguf_path)
    model = OnnxModel(folder, threads=args.threads, device="cpu", exact=args.exact)
    ids = prompt_ids(model.tokenizer)
    assert len(ids) == PROMPT_TOKENS
    # Rounds interleave the runtimes (one best-of-1 run each per round, best over rounds) so
    # load from other processes on a shared machine hits every runtime alike.
    label = "byom-onnx" + (" (exact)" if args.exact else "")
    samples: dict[str, list[tuple[float, float]]] = {label: [], "onnxruntime-genai": [], "llama.cpp": []}
    run_byom(model, ids)  # warm-up
    for _ in range(args.runs):
        p, d = run_byom(model, ids)
        samples[label].append((PROMPT_TOKENS / p, (NEW_TOKENS - 1) / d))
        for name, kind, source in (("onnxruntime-genai", "genai", folder), ("llama.cpp", "llama", gguf_path)):
            found = compare(kind, source, ids, args.threads, 1)
            if found is not None:
                samples[name].append(found)
    rows = {name: (max(s[0] for s in got), max(s[1] for s in got)) if got else None for name, got in samples.items()}
    ours = rows[label]
    assert ours is not None
    print(
        f"\nSmolLM2-135M-Instruct Q4_1, {PROMPT_TOKENS}-token prompt, {NEW_TOKENS} new tokens, "
        f"{args.threads} threads, best of {args.runs}; ratio = byom-onnx / runtime"
    )
    print(f"{'runtime':24s} {'prefill tok/s':>14s} {'decode tok/s':>13s} {'prefill ratio':>14s} {'decode ratio':>13s}")
    for name, row in rows.items():
        if row is None:
            print(f"{name:24s} {'n/a':>14s} {'n/a':>13s}")
            continue
        print(f"{name:24s} {row[0]:14.0f} {row[1]:13.1f} {ours[0] / row[0]:13.2f}x {ours[1] / row[1]:12.2f}x")
    if args.profile:
        profile(folder, ids, args.threads)


if __name__ == "__main__":
    main()
