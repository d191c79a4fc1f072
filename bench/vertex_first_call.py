"""Import and first-call cost of byom-vertex, in fresh interpreters (best of 5).

- ``import byom_sdk`` (and loading the plugin registry) with byom-vertex installed,
  against ``import boto3`` (goal: at most 0.5x);
- the first call through the Vertex plugin (import byom_sdk, build the model from config,
  first ``generate`` over gRPC against a loopback server started outside the timing),
  beside ``import google.cloud.aiplatform`` (anchor: 2-4 s).

    .venv/bin/python bench/vertex_first_call.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

from byom_vertex.testing import LocalVertexServer

TIMED = textwrap.dedent("""
    import time
    t0 = time.perf_counter()
    {body}
    print(time.perf_counter() - t0)
""")


def best(body: str, runs: int) -> float:
    code = TIMED.format(body=textwrap.dedent(body))
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with LocalVertexServer(codec="vllm", rest=False) as server:
        config = json.dumps(server.model_config())
        results = {
            "import byom_sdk": best("import byom_sdk", args.runs),
            "import byom_sdk + load plugins": best("import byom_sdk\nbyom_sdk.get_registry().load()", args.runs),
            "import boto3": best("import boto3", args.runs),
            "vertex first call": best(
                f"import byom_sdk, json\n"
                f"client = byom_sdk.Client(models={{'m': json.loads({config!r})}}, "
                f"policy={{'audit': {{'sink': 'memory'}}, 'allow_loopback': True}})\n"
                f"assert client.model('m').generate('hello', max_tokens=8).text\n",
                args.runs,
            ),
            "import google.cloud.aiplatform": best("import google.cloud.aiplatform", args.runs),
        }
    for name, seconds in results.items():
        print(f"{name:<34} {seconds * 1000:8.1f} ms")
    boto3 = results["import boto3"]
    print(
        f"import byom_sdk / import boto3 = {results['import byom_sdk'] / boto3:.3f}x; "
        f"with plugins loaded = {results['import byom_sdk + load plugins'] / boto3:.3f}x   (goal <= 0.5x)"
    )
    print(
        f"vertex first call / import google.cloud.aiplatform = "
        f"{results['vertex first call'] / results['import google.cloud.aiplatform']:.3f}x"
    )


if __name__ == "__main__":
    main()
