"""Grammar-constrained decoding speed on local SmolLM2: decode tokens/s with and without the
constraint, side by side, and their ratio (goal: constrained within 10 % of unconstrained).

Usage:  python bench/structured_decode.py [--runs 5] [--threads 2]

Both runs use the same prompt and the same greedy settings on one ``OnnxModel``. The
constrained run asks for a JSON schema (an enum, bounded integers, an array, a nested
object); the unconstrained run generates exactly as many tokens with the end token ignored.
Decode speed is taken from the stream's token timestamps after the first token, so prefill
and the grammar's one-off compile are not in it (they are printed separately).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 60},
        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
        "tags": {"type": "array", "items": {"enum": ["billing", "login", "travel", "hardware", "other"]}},
        "customer": {
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 30}, "vip": {"type": "boolean"}},
            "required": ["name", "vip"],
        },
        "summary": {"type": "string", "maxLength": 240},
    },
    "required": ["title", "priority", "tags", "customer", "summary"],
}
PROMPT = (
    "File a support ticket as JSON (title, priority 1-5, tags, customer, summary) for this message: "
    "'Hi, this is Maria Lopez. Since the upgrade on Monday I cannot log in to the billing portal from "
    "the office or from home, and my invoices for March are missing. Please help, it is urgent.'"
)


def _decode(model: Any, request: Any) -> tuple[float, float, int]:
    """(seconds to the first token, decode tokens/s after it, tokens) for one streamed call."""
    started = time.perf_counter()
    stamps: list[float] = []
    produced = 0
    for event in model.handle_stream(request):
        if event.type == "text":
            stamps.append(time.perf_counter())
        elif event.type == "finish" and event.usage is not None:
            produced = event.usage.output_tokens
    first = stamps[0] - started
    rate = (produced - 1) / (stamps[-1] - stamps[0]) if produced > 1 and stamps[-1] > stamps[0] else 0.0
    return first, rate, produced


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from byom_onnx import OnnxModel, default_models

    from byom_sdk import GenerateRequest

    model = OnnxModel(default_models().chat, threads=args.threads, temperature=0.0, max_batch=1)
    messages = ({"role": "user", "content": PROMPT},)
    response_format = {"type": "json_schema", "json_schema": {"name": "ticket", "schema": SCHEMA}}
    constrained = GenerateRequest(messages=messages, response_format=response_format, max_tokens=200)
    try:
        started = time.perf_counter()
        first_constrained = model._grammar.constraint_for(constrained)
        tokenizer_build = time.perf_counter() - started
        started = time.perf_counter()
        model._grammar.constraint_for(constrained)
        compile_s = time.perf_counter() - started
        assert first_constrained is not None
        _decode(model, constrained)  # warm-up: session, KV buffers, grammar cache
        best_c = best_u = 0.0
        tokens = 0
        firsts: list[tuple[float, float]] = []
        for _ in range(args.runs):
            first_c, rate_c, tokens = _decode(model, constrained)
            plain = GenerateRequest(messages=messages, max_tokens=tokens, extra={"ignore_eos": True})
            first_u, rate_u, _ = _decode(model, plain)
            best_c, best_u = max(best_c, rate_c), max(best_u, rate_u)
            firsts.append((first_c, first_u))
    finally:
        model.close()
    print(f"machine: {platform.machine()} {platform.processor() or ''} Python {platform.python_version()}")
    print(f"SmolLM2-135M-Instruct Q4_1, {args.threads} threads, greedy, best of {args.runs}; {tokens} tokens of JSON")
    print(
        f"one-off: llguidance tokenizer {tokenizer_build * 1e3:.0f} ms (once per model), "
        f"compile {compile_s * 1e3:.2f} ms"
    )
    print(
        f"first token: constrained {min(f[0] for f in firsts) * 1e3:.0f} ms, "
        f"unconstrained {min(f[1] for f in firsts) * 1e3:.0f} ms"
    )
    print(f"decode: constrained {best_c:.1f} tok/s, unconstrained {best_u:.1f} tok/s")
    ratio = best_c / best_u if best_u else 0.0
    print(f"ratio constrained / unconstrained: {ratio:.3f} (goal >= 0.90)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "byom-onnx" / "src"))
    raise SystemExit(main())
