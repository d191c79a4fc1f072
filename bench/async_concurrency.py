"""Async calls that are really concurrent, and an event loop that never blocks.

1. Throughput: ``--concurrency`` (64) concurrent ``agenerate`` calls through a Client to the
   local SageMaker server (real boto3, real wire protocol) whose container takes
   ``--latency`` (0.2 s) per call, after one untimed round that opens the connections and
   starts the threads. The ideal is concurrency / latency (320 req/s); the goal is >= 0.9 x
   ideal. The SageMaker provider is sync (boto3), so this measures the Client's bounded
   executor against asyncio's default one (6 threads on 2 cores). The anchor, measured in
   the same run: raw boto3 ``invoke_endpoint`` from a 64-thread pool, no SDK at all: what
   this machine's CPU allows the client (boto3 signs and parses ~1 ms per call).
2. Event-loop lag: while another process holds the audit database's write lock for 5 s,
   a ticker on the loop measures how late each 1 ms sleep wakes up while async calls keep
   arriving (each call's audit write waits for the lock — on the call's worker thread,
   not the loop). Goal: p99 lag <= 5 ms.

    .venv/bin/python bench/async_concurrency.py [--concurrency 64] [--latency 0.2] [--rounds 3] [--waves 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import byom_sdk

# The endpoint runs in its own process, as a real one would: in this process its request
# handling would compete with the client for the GIL and the measurement would be of both.
SERVE = """
import json, sys
from byom_sagemaker.testing import LocalSageMakerServer
from byom_sdk.testing import ScriptedModel
with LocalSageMakerServer(region="eu-west-1") as server:
    server.add_endpoint("slow", "tgi", ScriptedModel(["a reply"], delay=float(sys.argv[1])))
    print(json.dumps(server.model_config("slow")), flush=True)
    sys.stdin.read()
"""

HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


async def throughput(model: byom_sdk.ManagedModel, concurrency: int, calls: int) -> float:
    queue = list(range(calls))

    async def worker() -> None:
        while queue:
            queue.pop()
            await model.agenerate("Summarise ticket 4711", max_tokens=8)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return calls / (time.perf_counter() - started)


async def loop_lag(model: byom_sdk.ManagedModel, seconds: float) -> list[float]:
    lags: list[float] = []
    stop = time.perf_counter() + seconds

    async def ticker() -> None:
        while time.perf_counter() < stop:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - before - 0.001) * 1000)

    async def callers() -> None:
        pending = set()
        while time.perf_counter() < stop:
            pending.add(asyncio.ensure_future(model.agenerate("ping", max_tokens=2)))
            await asyncio.sleep(0.05)
        await asyncio.gather(*pending, return_exceptions=True)

    await asyncio.gather(ticker(), callers())
    return lags


def raw_boto3(config: dict[str, object], concurrency: int, calls: int, rounds: int) -> float:
    """Best req/s of raw boto3 invoke_endpoint from a thread pool: the anchor."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    import botocore.config

    client = boto3.client(
        "sagemaker-runtime",
        region_name=str(config["region"]),
        endpoint_url=str(config["endpoint_url"]),
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="example",
        config=botocore.config.Config(max_pool_connections=concurrency, retries={"max_attempts": 0}),
    )
    body = json.dumps({"inputs": "Summarise ticket 4711", "parameters": {"max_new_tokens": 8}})

    def call(_: int) -> bytes:
        answer = client.invoke_endpoint(EndpointName=str(config["endpoint_name"]), Body=body)
        return bytes(answer["Body"].read())

    best = 0.0
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(call, range(concurrency * 2)))  # connections and threads, untimed
        for _ in range(rounds):
            started = time.perf_counter()
            list(pool.map(call, range(calls)))
            best = max(best, calls / (time.perf_counter() - started))
    client.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--waves", type=int, default=16, help="calls per round = concurrency x waves")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds another process holds the audit lock")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    ideal = args.concurrency / args.latency
    endpoint = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(args.latency)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert endpoint.stdout is not None and endpoint.stdin is not None
    config = json.loads(endpoint.stdout.readline())
    with tempfile.TemporaryDirectory() as folder:
        audit = Path(folder) / "audit.sqlite"
        policy = {"allow_loopback": True, "audit": {"path": str(audit)}}
        print(f"machine: {platform.machine()} python {platform.python_version()}; ideal {ideal:.0f} req/s")
        with byom_sdk.Client(models={"m": config}, policy=policy) as client:
            model = client.model("m")
            model.generate("warm up", max_tokens=2)
            calls = args.concurrency * args.waves
            asyncio.run(throughput(model, args.concurrency, args.concurrency * 2))  # untimed
            best = 0.0
            for _ in range(args.rounds):
                rate = asyncio.run(throughput(model, args.concurrency, calls))
                best = max(best, rate)
            anchor = raw_boto3(config, args.concurrency, calls, args.rounds)
            print(
                f"{args.concurrency} concurrent agenerate, {args.latency * 1000:.0f} ms endpoint, "
                f"{calls} calls a round: best {best:.1f} req/s = {best / ideal:.2f} x ideal (goal >= 0.90)"
            )
            print(
                f"anchor, raw boto3 from {args.concurrency} threads: {anchor:.1f} req/s = "
                f"{anchor / ideal:.2f} x ideal; Client agenerate = {best / anchor:.2f} x raw boto3"
            )
            holder = subprocess.Popen(
                [sys.executable, "-c", HOLD, str(audit), str(args.hold)], stdout=subprocess.PIPE, text=True
            )
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            lags = sorted(asyncio.run(loop_lag(model, args.hold)))
            holder.wait()
            p99 = lags[int(0.99 * (len(lags) - 1))]
            print(
                f"event-loop lag while another process held the audit lock {args.hold:.0f} s: "
                f"p50 {statistics.median(lags):.2f} ms, p99 {p99:.2f} ms, max {lags[-1]:.2f} ms "
                f"over {len(lags)} ticks = {5.0 / max(p99, 1e-9):.1f} x the 5 ms goal"
            )
    endpoint.stdin.close()
    endpoint.wait(timeout=30)


if __name__ == "__main__":
    main()
