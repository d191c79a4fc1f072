"""Batch throughput and memory: the local runner, the Ray runner (2 CPUs) and a naive
``asyncio.gather`` loop, against a loopback endpoint that answers after 50 ms.

The endpoint runs in a subprocess and answers after 50 ms: by default the local SageMaker
runtime server (TGI container, the ``sagemaker`` provider over boto3 — sync, so async calls
use the Client's thread pool), or with ``--endpoint openai`` an asyncio OpenAI-compatible
server (the ``openai-compat`` provider over httpx). The Client has the default trust policy
plus keyed pseudonyms, so every record is masked, gated, scored and audited on every path.
Each record is a short ticket with an e-mail address and a phone number.

1. **records/s** for the same N records: ``Client.batch`` (local, ``--concurrency``),
   ``Client.batch`` (ray, 2 CPUs, 2 actors, a warm cluster; its start-up is reported
   apart), and ``asyncio.gather`` over every record at once (no bound, no resume, all
   records and answers in memory).
2. **peak RSS** of the local runner in a fresh process for 10k and 100k records (and of the
   naive loop for 10k and 100k): a streamed job stays flat.

    .venv/bin/python bench/batch_throughput.py [--records 2000] [--concurrency 64]
        [--rss 10000,100000] [--skip-ray] [--skip-rss]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ENDPOINT = textwrap.dedent(
    """
    import asyncio, json, sys

    DELAY = float(sys.argv[1])

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                length = 0
                for line in head.split(b"\\r\\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = json.loads(await reader.readexactly(length)) if length else {}
                await asyncio.sleep(DELAY)
                text = body.get("messages", [{}])[-1].get("content", "")
                answer = json.dumps({
                    "id": "x", "object": "chat.completion", "model": "bench",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok: " + text[:40]},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
                }).encode()
                writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: "
                             + str(len(answer)).encode() + b"\\r\\n\\r\\n" + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())
    """
)

SAGEMAKER_ENDPOINT = textwrap.dedent(
    """
    import sys, time
    from byom_sagemaker.testing import LocalSageMakerServer
    from byom_sdk.testing import ScriptedModel

    class Quiet(ScriptedModel):
        def _next_reply(self, request):  # no request log: the endpoint's memory stays flat
            return "ok: " + (request.prompt or "")[:40]

    server = LocalSageMakerServer(region="eu-west-1").start()
    server.add_endpoint("bench", "tgi", Quiet())
    server.inject("delay", times=10**9, seconds=float(sys.argv[1]))
    server._log = type("NoLog", (list,), {"append": lambda self, item: None})()
    print(server.url, flush=True)
    while True:
        time.sleep(3600)
    """
)

KEYS = {"BYOM_AUDIT_KEY": "bench-audit-key-0123456789abcdef", "BYOM_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789"}


def start_endpoint(delay: float, kind: str) -> tuple[subprocess.Popen[str], str]:
    code = SAGEMAKER_ENDPOINT if kind == "sagemaker" else ENDPOINT
    process = subprocess.Popen([sys.executable, "-c", code, str(delay)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    return process, line if kind == "sagemaker" else f"http://127.0.0.1:{line}/v1"


def write_records(path: Path, n: int) -> Path:
    with open(path, "w") as stream:
        for i in range(n):
            prompt = f"Ticket {i}: please call +44 20 7946 0958 or mail jane.doe{i}@example.com about the refund."
            stream.write(json.dumps({"id": f"t{i}", "prompt": prompt, "parameters": {"max_tokens": 16}}) + "\n")
    return path


def client(base_url: str, work: Path):
    from byom_sdk import Client

    if base_url.endswith("/v1"):
        models = {"bot": {"provider": "openai-compat", "base_url": base_url, "model": "bench", "stream": False}}
    else:
        models = {
            "bot": {
                "provider": "sagemaker",
                "endpoint_name": "bench",
                "region": "eu-west-1",
                "codec": "tgi",
                "endpoint_url": base_url,
                "credentials": {"access_key_id": "AKIDBENCH", "secret_access_key": "x"},
                "max_connections": 256,
            }
        }
    policy = {"allow_loopback": True, "masking": {"mode": "pseudonym"}, "audit": {"path": str(work / "audit.sqlite")}}
    return Client(models, policy=policy)


async def naive(base_url: str, work: Path, source: Path) -> float:
    records = [json.loads(line) for line in source.open()]
    with client(base_url, work) as c:
        model = c.model("bot")
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(model.agenerate(r["prompt"], max_tokens=16) for r in records), return_exceptions=True
        )
        elapsed = time.perf_counter() - started
    failed = sum(isinstance(a, BaseException) for a in answers)
    assert not failed, f"{failed} naive calls failed"
    return len(records) / elapsed


def rss_child(mode: str, base_url: str, n: int, concurrency: int) -> None:
    """Run one job in this (fresh) process and print its peak RSS."""
    os.environ.update(KEYS)
    work = Path(tempfile.mkdtemp(prefix="byom-bench-rss-"))
    source = write_records(work / "in.jsonl", n)
    if mode == "local":
        with client(base_url, work) as c:
            summary = c.batch(source, work / "out.jsonl", model="bot", concurrency=concurrency, progress=False)
        rate = summary.records_per_s
    else:
        rate = asyncio.run(naive(base_url, work, source))
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
    status = Path("/proc/self/status").read_text()
    peak_mb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
    print(json.dumps({"mode": mode, "records": n, "peak_rss_mb": round(peak_mb, 1), "records_per_s": round(rate, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--endpoint", choices=("sagemaker", "openai"), default="sagemaker")
    parser.add_argument("--rss", default="10000,100000")
    parser.add_argument("--naive-rss", default="10000,30000", help="record counts for the naive loop's peak RSS")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--rss-child", nargs=3, metavar=("MODE", "URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        mode, url, n = args.rss_child
        rss_child(mode, url, int(n), args.concurrency)
        return
    os.environ.update(KEYS)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"endpoint: {args.endpoint} on loopback, {args.delay * 1000:.0f} ms per request; {args.records} records; "
        f"concurrency {args.concurrency}"
    )
    endpoint, base_url = start_endpoint(args.delay, args.endpoint)
    try:
        work = Path(tempfile.mkdtemp(prefix="byom-bench-"))
        source = write_records(work / "in.jsonl", args.records)
        ideal = args.concurrency / args.delay
        with client(base_url, work) as c:
            local = c.batch(source, work / "local.jsonl", model="bot", concurrency=args.concurrency, progress=False)
        assert local.ok == args.records, local.as_dict()
        print(
            f"local runner      {local.records_per_s:8.1f} records/s  (bound: {ideal:.0f}/s; p50 "
            f"{local.latency.quantile(0.5):.1f} ms, p95 {local.latency.quantile(0.95):.1f} ms)"
        )
        naive_rate = asyncio.run(naive(base_url, work, source))
        print(f"asyncio.gather    {naive_rate:8.1f} records/s  (every record in flight at once)")
        if not args.skip_ray:
            import ray

            started = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
            print(f"ray.init(num_cpus=2): {time.perf_counter() - started:.1f} s")
            try:
                with client(base_url, work) as c:
                    on_ray = c.batch(
                        source,
                        work / "ray.jsonl",
                        model="bot",
                        runner="ray",
                        concurrency=args.concurrency,
                        progress=False,
                        ray={"workers": 2, "batch_size": 100},
                    )
            finally:
                ray.shutdown()
            assert on_ray.ok == args.records, on_ray.as_dict()
            print(
                f"ray runner (2 CPU) {on_ray.records_per_s:7.1f} records/s  (2 actors, warm cluster, spooling included)"
            )
        if not args.skip_rss:
            for mode, counts in (("local", args.rss), ("naive", args.naive_rss)):
                for n in (int(x) for x in counts.split(",")):
                    out = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--concurrency",
                            str(args.concurrency),
                            "--rss-child",
                            mode,
                            base_url,
                            str(n),
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    row = json.loads(out.stdout.strip().splitlines()[-1])
                    print(
                        f"peak RSS {mode:5s} {row['records']:>7} records: {row['peak_rss_mb']:7.1f} MB "
                        f"({row['records_per_s']:.0f} records/s)"
                    )
    finally:
        endpoint.terminate()
        endpoint.wait()


if __name__ == "__main__":
    main()
