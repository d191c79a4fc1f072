"""Aggregate tokens/s of concurrent streams on one SmolLM2-135M-Instruct Q4_1 model: byom-onnx
(continuous batching) vs llama.cpp decoding the same number of sequences in parallel.

    python bench/onnx_concurrency.py [--threads 2] [--runs 3] [--tokens 64] [--streams 1,2,4,8]

Each round starts N streams at once (asyncio tasks on ``model.astream``, the native async path;
``--sync`` uses threads and ``model.stream``), each with its own chat prompt, greedy, EOS
ignored, ``--tokens`` new tokens; aggregate tokens/s = N x tokens / wall time from the first
request to the last event, prefill included. Best of ``--runs``; the ratio column is against one
stream of the same runtime.

llama.cpp runs in bench/.env-llama (see bench/onnx_decode.py for how to build it) through its
C API: one context with ``n_seq_max = N`` and one ``llama_batch`` per step holding every live
sequence, the batching ``llama-server --parallel N`` does, without HTTP. llama-cpp-python's own
server (the ``[server]`` extra) has no parallel slots: it serialises requests behind a lock
and by default interrupts a running stream when a new request arrives, so it is not a
parallel-slot baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np  # the only import the bench/.env-llama worker needs

TOPICS = [
    "the sea",
    "a mountain village",
    "the history of bread",
    "how bees communicate",
    "a rainy afternoon in a library",
    "why the sky is blue",
    "the first train journey",
    "a lighthouse keeper",
    "learning to play the violin",
    "the life of a river",
    "winter in the city",
    "a clockmaker's workshop",
    "the moon landing",
    "a market at dawn",
    "an old map",
    "the smell of rain",
]


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Write a short story about {TOPICS[i % len(TOPICS)]}."}]


# -- byom-onnx -----------------------------------------------------------------------------


async def _astreams(model, n: int, tokens: int) -> float:
    async def one(i: int) -> int:
        count = 0
        async for event in model.astream(messages(i), temperature=0, max_tokens=tokens, extra={"ignore_eos": True}):
            if event.type == "finish":
                count = event.usage.output_tokens
        return count

    start = time.perf_counter()
    counts = await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - start
    assert all(c == tokens for c in counts), counts
    return n * tokens / wall


def _sync_streams(model, n: int, tokens: int) -> float:
    counts = [0] * n

    def one(i: int) -> None:
        for event in model.stream(messages(i), temperature=0, max_tokens=tokens, extra={"ignore_eos": True}):
            if event.type == "finish":
                counts[i] = event.usage.output_tokens

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    assert all(c == tokens for c in counts), counts
    return n * tokens / wall


# -- llama.cpp (runs inside bench/.env-llama) -----------------------------------------------


def llama_worker(gguf: str, prompts_file: str, threads: int, streams: list[int], tokens: int, runs: int) -> None:
    import llama_cpp as L

    prompts = json.loads(Path(prompts_file).read_text())
    # The C library logs every graph build at debug level; silence it (Llama(verbose=False) does too).
    quiet = L.llama_log_callback(lambda level, text, data: None)
    L.llama_log_set(quiet, None)
    L.llama_backend_init()
    model = L.llama_model_load_from_file(gguf.encode(), L.llama_model_default_params())
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    top = max(streams)
    ctx_len = 512
    params = L.llama_context_default_params()
    params.n_ctx = ctx_len * top
    params.n_batch = 512
    params.n_ubatch = 512
    params.n_seq_max = top
    params.n_threads = params.n_threads_batch = threads
    params.kv_unified = True
    ctx = L.llama_init_from_model(model, params)
    memory = L.llama_get_memory(ctx)
    batch = L.llama_batch_init(512 * top, 0, top)

    def add(token: int, pos: int, seq: int, want: bool) -> None:
        i = batch.n_tokens
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = want
        batch.n_tokens += 1

    def round_(n: int) -> float:
        L.llama_memory_clear(memory, True)
        start = time.perf_counter()
        # Prefill every prompt in one batch, as llama-server does for requests that arrive together.
        batch.n_tokens = 0
        rows = {}
        for s in range(n):
            ids = prompts[s]
            for p, t in enumerate(ids):
                add(t, p, s, p == len(ids) - 1)
            rows[s] = batch.n_tokens - 1
        assert L.llama_decode(ctx, batch) == 0
        pos = {s: len(prompts[s]) for s in range(n)}
        for _ in range(tokens):
            nxt = {}
            for s in range(n):
                logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, rows[s]), shape=(n_vocab,))
                nxt[s] = int(np.argmax(logits))
            batch.n_tokens = 0
            for s in range(n):
                add(nxt[s], pos[s], s, True)
                rows[s] = batch.n_tokens - 1
                pos[s] += 1
            assert L.llama_decode(ctx, batch) == 0
        return n * tokens / (time.perf_counter() - start)

    out = {}
    for n in streams:
        round_(n)  # warm-up
        out[n] = max(round_(n) for _ in range(runs))
    print(json.dumps(out))


def compare_llama(gguf: Path, prompts: list[list[int]], threads: int, streams: list[int], tokens: int, runs: int):
    python = Path(__file__).parent / ".env-llama" / "bin" / "python"
    if not python.exists():
        print("llama.cpp: bench/.env-llama not found; see bench/onnx_decode.py", file=sys.stderr)
        return None
    prompts_file = Path(tempfile.mkdtemp()) / "prompts.json"
    prompts_file.write_text(json.dumps(prompts))
    cmd = [str(python), __file__, "--worker", str(gguf), "--prompts", str(prompts_file), "--threads", str(threads)]
    cmd += ["--streams", ",".join(map(str, streams)), "--tokens", str(tokens), "--runs", str(runs)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"llama.cpp: worker failed: {done.stderr.strip().splitlines()[-3:]}", file=sys.stderr)
        return None
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--streams", default="1,2,4,8")
    parser.add_argument("--sync", action="store_true", help="threads + model.stream instead of asyncio")
    parser.add_argument("--no-llama", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--prompts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    streams = [int(s) for s in args.streams.split(",")]
    if args.worker:
        llama_worker(args.worker, args.prompts, args.threads, streams, args.tokens, args.runs)
        return

    from byom_onnx import OnnxModel, converted_gguf, smollm2_path

    gguf = smollm2_path()
    model = OnnxModel(converted_gguf(gguf), threads=args.threads, device="cpu", max_batch=max(streams))
    prompts = [
        model.tokenizer.encode(model.tokenizer.apply_chat_template(messages(i), add_generation_prompt=True))
        for i in range(max(streams))
    ]

    def measure(n: int) -> float:
        if args.sync:
            return _sync_streams(model, n, args.tokens)
        return asyncio.run(_astreams(model, n, args.tokens))

    ours: dict[int, float] = {}
    for n in streams:
        measure(n)  # warm-up
        ours[n] = max(measure(n) for _ in range(args.runs))
    theirs = None if args.no_llama else compare_llama(gguf, prompts, args.threads, streams, args.tokens, args.runs)
    model.close()
    mode = "threads + stream" if args.sync else "asyncio + astream"
    print(
        f"\nSmolLM2-135M-Instruct Q4_1, {args.tokens} new tokens per stream (greedy, EOS ignored), "
        f"{args.threads} threads, best of {args.runs}; byom-onnx via {mode}"
    )
    header = ["streams", "byom-onnx tok/s", "vs 1 stream", "llama.cpp tok/s", "vs 1 stream", "byom/llama"]
    print(" ".join(f"{h:>{w}s}" for h, w in zip(header, (7, 16, 12, 16, 12, 11), strict=True)))
    for n in streams:
        row = f"{n:7d} {ours[n]:16.1f} {ours[n] / ours[streams[0]]:11.2f}x"
        if theirs:
            row += f" {theirs[n]:16.1f} {theirs[n] / theirs[streams[0]]:11.2f}x {ours[n] / theirs[n]:10.2f}x"
        print(row)


if __name__ == "__main__":
    main()
