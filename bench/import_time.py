"""Import cost of byom_sdk against boto3, in fresh interpreters, best of N.

Goal (issue 2): `import byom_sdk` (core, every first-party plugin installed) <= 0.5x `import boto3`.
Also reported, for honesty: the cost once the contract is touched (`byom_sdk.Client`), and of
loading every installed plugin's entry-point module (which must not import cloud SDKs).

With byom-vertex installed it then runs bench/vertex_first_call.py: the Vertex plugin's
first-call cost (build a model, first predict against the local server) beside
`import google.cloud.aiplatform` (anchor 2-4 s).

Run: .venv/bin/python bench/import_time.py [--runs 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys

CASES = {
    "python -c pass": "pass",
    "import byom_sdk": "import byom_sdk",
    "byom_sdk.Client (contract loaded)": "import byom_sdk; byom_sdk.Client",
    "registry.load() (all plugins' entry modules)": (
        "import warnings, byom_sdk; warnings.simplefilter('ignore'); byom_sdk.get_registry().load()"
    ),
    "import boto3 (anchor)": "import boto3",
}


def measure(code: str, runs: int) -> list[float]:
    timer = f"import time; __t = time.perf_counter()\n{code}\nprint(time.perf_counter() - __t)"
    samples = []
    for _ in range(runs + 1):  # first run warms the OS file cache
        out = subprocess.run([sys.executable, "-c", timer], capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return samples[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    results = {}
    # Interleave cases run by run so background noise hits all of them alike.
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.runs):
        for name, code in CASES.items():
            samples[name].extend(measure(code, 1))
    for name in CASES:
        results[name] = min(samples[name])
        best, median = results[name] * 1000, statistics.median(samples[name]) * 1000
        print(f"{name:48s} best {best:8.1f} ms   median {median:8.1f} ms")
    anchor = results["import boto3 (anchor)"]
    print()
    for name in list(CASES)[1:-1]:
        print(f"{name:48s} {results[name] / anchor:5.2f}x import boto3")
    ratio = results["import byom_sdk"] / anchor
    print(f"\ngoal import byom_sdk <= 0.5x import boto3: {'met' if ratio <= 0.5 else 'NOT met'} ({ratio:.2f}x)")
    import importlib.util
    from pathlib import Path

    if importlib.util.find_spec("byom_vertex") is not None:
        print("\n--- Vertex plugin: first-call cost vs import google.cloud.aiplatform ---", flush=True)
        script = Path(__file__).with_name("vertex_first_call.py")
        subprocess.run([sys.executable, str(script), "--runs", str(args.runs)], check=True)


if __name__ == "__main__":
    main()
