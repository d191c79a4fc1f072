"""Per-call overhead of byom-sagemaker over the raw boto3 client.

Median time of ``model.generate`` through ``byom_sdk.Client`` (trust on with the default
policy, and trust off), and of the bare ``SageMakerModel`` (the plugin's own cost), against
a raw ``invoke_endpoint`` + ``Body.read()`` + ``json.loads`` on a reused boto3 client with
the same body, all against the same loopback ``LocalSageMakerServer`` (TGI personality):
1,000 calls each, interleaved in one run with the order rotated every round.

    .venv/bin/python bench/sagemaker_overhead.py [--calls 1000] [--audit default|memory] [--profile]

``--profile`` also runs cProfile over byom calls and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import statistics
import time
import warnings

import boto3
from botocore.config import Config
from byom_sagemaker.testing import LocalSageMakerServer

import byom_sdk
from byom_sdk.testing import ScriptedModel

PROMPT = "Summarise ticket 4711"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--audit",
        choices=["default", "memory"],
        default="default",
        help="audit sink of the Clients: the default policy's, or in-memory (to isolate its cost)",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # plugins of other teams may warn while loading
    with LocalSageMakerServer(region="eu-west-1") as server:
        server.add_endpoint("bench", "tgi", ScriptedModel(["a short reply of seven words here"]))
        config = server.model_config("bench")
        creds = config["credentials"]
        raw = boto3.client(
            "sagemaker-runtime",
            region_name="eu-west-1",
            endpoint_url=server.url,
            aws_access_key_id=creds["access_key_id"],
            aws_secret_access_key=creds["secret_access_key"],
            config=Config(retries={"total_max_attempts": 1}),
        )
        # What a hand-written TGI call sends: the same body the codec builds.
        body = json.dumps(
            {
                "inputs": PROMPT,
                "parameters": {"max_new_tokens": 16, "details": True, "return_full_text": False, "do_sample": False},
                "stream": False,
            }
        ).encode()
        policy = {"allow_loopback": True}  # the local server is on 127.0.0.1
        if args.audit == "memory":
            policy["audit"] = {"sink": "memory"}
        on_client = byom_sdk.Client(models={"m": config}, trust="on", policy=policy)
        off_client = byom_sdk.Client(models={"m": config}, trust="off", policy=policy)
        on, off = on_client.model("m"), off_client.model("m")
        bare_config = dict(config)
        bare_config.pop("provider")
        from byom_sagemaker import SageMakerConfig, SageMakerModel

        bare = SageMakerModel(SageMakerConfig(**bare_config))

        def raw_call() -> None:
            response = raw.invoke_endpoint(
                EndpointName="bench", Body=body, ContentType="application/json", Accept="application/json"
            )
            assert json.loads(response["Body"].read())[0]["generated_text"]

        def byom_call(model: byom_sdk.Model) -> None:
            assert model.generate(PROMPT, max_tokens=16).text

        calls = {
            "raw": raw_call,
            "on": lambda: byom_call(on),
            "off": lambda: byom_call(off),
            "bare": lambda: byom_call(bare),
        }
        for _ in range(50):  # warm up connections, caches and the server's threads
            for call in calls.values():
                call()
        samples: dict[str, list[float]] = {name: [] for name in calls}
        order = list(calls)
        for i in range(args.calls):
            for name in order[i % 4 :] + order[: i % 4]:  # rotate to cancel ordering effects
                start = time.perf_counter()
                calls[name]()
                samples[name].append(time.perf_counter() - start)
        raw_ms = statistics.median(samples["raw"]) * 1000
        print(f"machine: {platform.machine()} python {platform.python_version()}, {args.calls} calls each, interleaved")
        print(f"raw boto3 invoke_endpoint (loopback): median {raw_ms:.3f} ms   (Client audit sink: {args.audit})")
        for name, label in (("bare", "SageMakerModel alone"), ("on", "Client, trust on"), ("off", "Client, trust off")):
            ms = statistics.median(samples[name]) * 1000
            paired = statistics.median(b - r for b, r in zip(samples[name], samples["raw"], strict=True)) * 1000
            print(
                f"byom model.generate ({label:20s}): median {ms:.3f} ms  extra {ms - raw_ms:+.3f} ms  "
                f"ratio {ms / raw_ms:.3f}x  (paired median extra {paired:+.3f} ms; goal <= 0.1 ms)"
            )
        if args.profile:
            for label, model in (("Client, trust on", on), ("SageMakerModel alone", bare)):
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.calls):
                    byom_call(model)
                profiler.disable()
                print(f"\n--- cProfile, {args.calls} x generate ({label}), top 25 by own time ---")
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        bare.close()
        on_client.close()
        off_client.close()
        raw.close()


if __name__ == "__main__":
    main()
