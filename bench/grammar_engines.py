"""Constrained-decoding engines for the ONNX loop, measured on SmolLM2's vocabulary.

Usage:  python bench/grammar_engines.py [--runs 5]

For each engine that can run here: the one-off tokenizer/vocabulary build, the time to
compile a schema (a tool-call schema with an enum, bounded integers, an array, a nested
object, ``maxLength`` and ``null``; and a 12-optional-field schema), and the per-token cost
of computing the allowed-token mask along a 60-token valid answer (mean, p50, p90). The
mask cost is the one paid on every decode step; compile is paid once per schema.

xgrammar is reported, not run, when torch is absent: its wheel imports torch at import time
(that dependency is the reason it is not the engine here). Ratios are printed against
llguidance, the engine byom-onnx uses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 24},
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "hours": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 23}},
        "where": {
            "type": "object",
            "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
            "required": ["lat", "lon"],
        },
        "note": {"type": "null"},
    },
    "required": ["city", "unit", "days", "hours", "where", "note"],
    "additionalProperties": False,
}
INSTANCE = {
    "city": "Lisbon",
    "unit": "celsius",
    "days": 3,
    "hours": [8, 12, 18],
    "where": {"lat": 38.72, "lon": -9.14},
    "note": None,
}
OPTIONAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {f"field_{i}": {"type": "string"} for i in range(12)},
}


def _tokenizer() -> Any:
    from byom_onnx import default_models
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(default_models().chat / "tokenizer.json"))


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "mean_us": 1e6 * statistics.fmean(ordered),
        "p50_us": 1e6 * ordered[len(ordered) // 2],
        "p90_us": 1e6 * ordered[int(len(ordered) * 0.9)],
    }


def bench_llguidance(tokenizer: Any, text: str, runs: int) -> dict[str, Any]:
    import llguidance
    import llguidance.numpy as llnp
    import numpy as np

    started = time.perf_counter()
    ll = llguidance.LLTokenizer(tokenizer.to_str(), eos_token=[2])
    build = time.perf_counter() - started
    compile_s = []
    for schema in (TOOL_SCHEMA, OPTIONAL_SCHEMA):
        best = float("inf")
        for _ in range(runs):
            started = time.perf_counter()
            grammar = llguidance.LLMatcher.grammar_from_json_schema(schema, defaults={"whitespace_flexible": False})
            matcher = llguidance.LLMatcher(ll, grammar)
            llnp.fill_next_token_bitmask(matcher, llnp.allocate_token_bitmask(1, ll.vocab_size), 0)
            best = min(best, time.perf_counter() - started)
        compile_s.append(best)
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    grammar = llguidance.LLMatcher.grammar_from_json_schema(TOOL_SCHEMA, defaults={"whitespace_flexible": False})
    samples: list[float] = []
    for _ in range(runs):
        matcher = llguidance.LLMatcher(ll, grammar)
        bitmask = llnp.allocate_token_bitmask(1, ll.vocab_size)
        for token in ids:
            started = time.perf_counter()
            llnp.fill_next_token_bitmask(matcher, bitmask, 0)
            allowed = np.unpackbits(bitmask.view(np.uint8), bitorder="little")[: ll.vocab_size]
            samples.append(time.perf_counter() - started)
            if not allowed[token] or not matcher.consume_token(token):
                raise SystemExit(f"llguidance rejected a valid answer at token {token}")
    return {"build_s": build, "compile_ms": [1e3 * c for c in compile_s], **_stats(samples)}


def _byte_vocabulary(tokenizer: Any) -> dict[bytes, list[int]]:
    """GPT-2 byte-level token strings → the bytes they stand for."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    decode = {chr(c): b for b, c in zip(printable, codes, strict=True)}
    out: dict[bytes, list[int]] = {}
    for piece, token_id in tokenizer.get_vocab().items():
        if token_id == 2:
            continue
        try:
            out.setdefault(bytes(decode[ch] for ch in piece), []).append(token_id)
        except KeyError:
            out.setdefault(piece.encode(), []).append(token_id)
    return out


def bench_outlines_core(tokenizer: Any, text: str, runs: int) -> dict[str, Any]:
    import numpy as np
    from outlines_core import Guide, Index, Vocabulary
    from outlines_core.json_schema import build_regex_from_schema

    started = time.perf_counter()
    vocabulary = Vocabulary(2, _byte_vocabulary(tokenizer))
    build = time.perf_counter() - started
    compile_s = []
    indexes = []
    for schema in (TOOL_SCHEMA, OPTIONAL_SCHEMA):
        best = float("inf")
        for _ in range(max(1, runs // 2)):  # seconds per compile: fewer runs
            started = time.perf_counter()
            index = Index(build_regex_from_schema(json.dumps(schema), r"[\n ]?"), vocabulary)
            best = min(best, time.perf_counter() - started)
        compile_s.append(best)
        indexes.append(index)
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    size = tokenizer.get_vocab_size()
    samples: list[float] = []
    for _ in range(runs):
        guide = Guide(indexes[0])
        mask = np.zeros((size + 31) // 32, dtype=np.int32)
        for token in ids:
            started = time.perf_counter()
            guide.write_mask_into(mask.ctypes.data, mask.size, 4)
            allowed = np.unpackbits(mask.view(np.uint8), bitorder="little")[:size]
            samples.append(time.perf_counter() - started)
            if not allowed[token]:
                raise SystemExit(f"outlines-core rejected a valid answer at token {token}")
            guide.advance(token, return_tokens=False)
    return {"build_s": build, "compile_ms": [1e3 * c for c in compile_s], **_stats(samples)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tokenizer = _tokenizer()
    text = json.dumps(INSTANCE, separators=(",", ":"))
    print(f"vocabulary {tokenizer.get_vocab_size()} tokens; answer {len(tokenizer.encode(text).ids)} tokens")
    results: dict[str, dict[str, Any]] = {"llguidance": bench_llguidance(tokenizer, text, args.runs)}
    try:
        results["outlines-core"] = bench_outlines_core(tokenizer, text, args.runs)
    except ImportError:
        print("outlines-core: not installed (uv sync --group dev installs it)")
    try:
        import xgrammar  # noqa: F401  (import only: it needs torch)
    except ImportError as exc:
        print(f"xgrammar: cannot import here ({exc}); it requires torch, transformers and triton")
    base = results["llguidance"]
    columns = (("vocab build", 11), ("compile tool", 13), ("compile 12-opt", 15))
    columns += (("mask mean", 10), ("p50", 7), ("p90", 7))
    print(f"{'engine':14} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for name, r in results.items():
        print(
            f"{name:14} {r['build_s']:>10.2f}s {r['compile_ms'][0]:>11.1f}ms {r['compile_ms'][1]:>13.1f}ms"
            f" {r['mean_us']:>8.1f}us {r['p50_us']:>5.0f}us {r['p90_us']:>5.0f}us"
        )
    for name, r in results.items():
        if name != "llguidance":
            print(
                f"ratio {name}/llguidance: compile x{r['compile_ms'][0] / base['compile_ms'][0]:.0f}, "
                f"mask mean x{r['mean_us'] / base['mean_us']:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "byom-onnx" / "src"))
    raise SystemExit(main())
