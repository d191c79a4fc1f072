"""Runs inside bench/.envs/presidio: Presidio's regex recognizers over a corpus.

Reads ``{"texts": [...], "prompts": [...], "calls": n}`` as JSON on stdin and writes
``{"predictions": [[[start, end, type, score], ...], ...], "cpu_s", "wall_s",
"latency_cpu_ms": [...], "init_s", "version"}`` on stdout.

The analyzer is built by contrib/byom-presidio's own ``build_analyzer`` (loaded from the
source tree, with a stand-in for ``byom_sdk.trust.Span`` so that the SDK need not be
installed here): every predefined recognizer, a blank spaCy ``en`` pipeline (no NER,
nothing downloaded) and the offline e-mail recognizer; threshold 0 (its highest recall).
"""

from __future__ import annotations

import gc
import importlib.metadata
import importlib.util
import json
import sys
import time
import types
from collections import namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_contrib_detector() -> types.ModuleType:
    trust = types.ModuleType("byom_sdk.trust")
    trust.Span = namedtuple("Span", "start end entity score detector")  # type: ignore[attr-defined]
    sdk = types.ModuleType("byom_sdk")
    sdk.trust = trust  # type: ignore[attr-defined]
    sys.modules.setdefault("byom_sdk", sdk)
    sys.modules.setdefault("byom_sdk.trust", trust)
    path = ROOT / "contrib" / "byom-presidio" / "src" / "byom_presidio" / "_detector.py"
    spec = importlib.util.spec_from_file_location("byom_presidio_detector", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    request = json.load(sys.stdin)
    started = time.perf_counter()
    module = _load_contrib_detector()
    detector = module.PresidioDetector(entities=None, all_recognizers=True, score_threshold=0.0)
    init_s = time.perf_counter() - started
    texts = request["texts"]
    detector.analyze(texts[0])  # warm up (lazy compiles, tldextract snapshot)
    predictions = []
    gc.collect()
    gc.disable()  # as timeit does, and as the built-in's timing does
    wall, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        predictions.append([[r.start, r.end, r.entity_type, float(r.score)] for r in detector.analyze(text)])
    cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
    gc.enable()
    latencies = []
    prompts = request.get("prompts") or []
    for i in range(int(request.get("calls", 0)) if prompts else 0):
        c = time.process_time()
        detector.analyze(prompts[i % len(prompts)])
        latencies.append((time.process_time() - c) * 1000.0)
    json.dump(
        {
            "predictions": predictions,
            "cpu_s": cpu_s,
            "wall_s": wall_s,
            "init_s": init_s,
            "latency_cpu_ms": latencies,
            "version": importlib.metadata.version("presidio-analyzer"),
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
