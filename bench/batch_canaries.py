"""20,000 records with canary PII through every batch runner, and what crossed the boundary.

For each runner the same input (every record holds every canary of
``byom_sdk.trust.testing.CANARIES``), keyed pseudonyms, a keyed audit log, and offline
stand-ins for the services:

- ``local``: the local SageMaker runtime server (TGI container echoing what it gets);
- ``local-killed``: ``byom batch run`` SIGKILLed after a quarter of the records, then run
  again (resume);
- ``ray-1`` / ``ray-4``: Ray Data on a 2-CPU local cluster with 1 and 4 actors; in the
  4-actor run one actor is SIGKILLed mid-job (Ray restarts it and re-runs its batch);
- ``sagemaker-transform``: moto's S3, the local transform service and container;
- ``vertex-batch``: gcp-storage-emulator and the local batch prediction service.

Checked per runner: canaries in what the endpoint / container received and in everything
S3 or Cloud Storage stored (grepped, deleted objects included); every id answered exactly
once, with the canaries restored; the merged audit (``verify_audit`` with the key, shards
and Merkle root); and for Ray, that 1 and 4 actors sent byte-identical masked bodies.

    .venv/bin/python bench/batch_canaries.py [--records 20000] [--runners local,ray,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

KEYS = {
    "BYOM_AUDIT_KEY": "canary-bench-audit-key-0123456789",
    "BYOM_PSEUDONYM_KEY": "canary-bench-pseudonym-0123456789",
}
POLICY = {"allow_loopback": True, "masking": {"mode": "pseudonym"}}
ALL = ("local", "local-killed", "ray", "sagemaker-transform", "vertex-batch")


def write_records(path: Path, n: int) -> Path:
    from byom_sdk.trust.testing import canary_text

    with open(path, "w") as stream:
        for i in range(n):
            record = {"id": f"r{i}", "prompt": f"record {i}: {canary_text()}", "parameters": {"max_tokens": 400}}
            stream.write(json.dumps(record) + "\n")
    return path


def check(name: str, n: int, out: Path, audit: Path, received: Any, stored: Any, started: float) -> dict[str, Any]:
    from byom_sdk.trust import verify_audit
    from byom_sdk.trust.testing import CANARIES, find_canaries

    rows = [json.loads(line) for line in out.open()]
    counts = Counter(row["id"] for row in rows)
    restored = sum(1 for row in rows if all(v in row.get("response", {}).get("text", "") for v in CANARIES.values()))
    result = verify_audit(audit, key=KEYS["BYOM_AUDIT_KEY"])
    report = {
        "runner": name,
        "records": n,
        "answered_once": len(counts) == n and set(counts.values()) == {1},
        "duplicates": sum(c - 1 for c in counts.values()),
        "restored": restored,
        "canaries_at_endpoint": find_canaries(received),
        "canaries_in_storage": find_canaries(stored) if stored is not None else "n/a",
        "audit": result.describe()[:160],
        "audit_ok": result.ok and result.complete,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report), flush=True)
    return report


def local(n: int, work: Path) -> None:
    from byom_sagemaker.testing import LocalSageMakerServer

    from byom_sdk import Client

    source = write_records(work / "in.jsonl", n)
    with LocalSageMakerServer(region="eu-west-1") as server:
        server.add_endpoint("echo", "tgi")
        started = time.perf_counter()
        audit = work / "local.sqlite"
        with Client({"bot": server.model_config("echo")}, policy={**POLICY, "audit": {"path": str(audit)}}) as c:
            c.batch(source, work / "local.jsonl", model="bot", concurrency=32, progress=False)
        check("local", n, work / "local.jsonl", audit, [r.body for r in server.requests], None, started)


def local_killed(n: int, work: Path) -> None:
    from byom_sagemaker.testing import LocalSageMakerServer

    source = write_records(work / "in.jsonl", n)
    with LocalSageMakerServer(region="eu-west-1") as server:
        server.add_endpoint("echo", "tgi")
        config = server.model_config("echo")
        creds = config.pop("credentials")
        toml = "[models.bot]\n" + "".join(f'{k} = "{v}"\n' for k, v in config.items())
        toml += "[models.bot.credentials]\n" + "".join(f'{k} = "{v}"\n' for k, v in creds.items())
        toml += '[trust]\nallow_loopback = true\n[trust.masking]\nmode = "pseudonym"\n'
        (work / "byom.toml").write_text(toml)
        out = work / "killed.jsonl"
        command = [
            sys.executable,
            "-m",
            "byom_sdk.cli",
            "--config",
            str(work / "byom.toml"),
            "batch",
            "run",
            "--input",
            str(source),
            "--output",
            str(out),
            "--model",
            "bot",
            "--concurrency",
            "32",
            "--no-progress",
        ]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL)
        while not out.exists() or len(out.read_bytes().splitlines()) < n // 4:
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        before = len(out.read_bytes().splitlines())
        subprocess.run([*command, "--json"], cwd=work, check=True, capture_output=True)
        print(f"local-killed: {before} rows written before SIGKILL, rerun resumed", flush=True)
        check("local-killed", n, out, work / "byom-audit.sqlite", [r.body for r in server.requests], None, started)


def _actor_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"MapWorker" in cmdline and b"RayWorker" in cmdline:
                pids.append(int(entry.name))
    return pids


def ray_runs(n: int, work: Path) -> None:
    import ray
    from byom_sagemaker.testing import LocalSageMakerServer

    from byom_sdk import Client

    source = write_records(work / "in.jsonl", n)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    bodies: dict[int, set[bytes]] = {}
    try:
        for workers in (1, 4):
            with LocalSageMakerServer(region="eu-west-1") as server:
                server.add_endpoint("echo", "tgi")
                audit = work / f"ray{workers}.sqlite"
                out = work / f"ray{workers}.jsonl"
                started = time.perf_counter()
                killer = None
                if workers == 4:

                    def kill(server: Any = server) -> None:
                        while len(server.requests) < n // 3:
                            time.sleep(0.2)
                        pids = _actor_pids()
                        if pids:
                            os.kill(pids[0], signal.SIGKILL)
                            print(
                                f"ray-4: SIGKILLed actor pid {pids[0]} after {len(server.requests)} requests",
                                flush=True,
                            )

                    killer = threading.Thread(target=kill, daemon=True)
                    killer.start()
                policy = {**POLICY, "audit": {"path": str(audit)}}
                with Client({"bot": server.model_config("echo", max_connections=64)}, policy=policy) as c:
                    c.batch(
                        source,
                        out,
                        model="bot",
                        runner="ray",
                        concurrency=32,
                        progress=False,
                        ray={"workers": workers, "batch_size": 100},
                    )
                received = [r.body for r in server.requests]
                bodies[workers] = set(received)
                check(f"ray-{workers}", n, out, audit, received, None, started)
    finally:
        ray.shutdown()
    print(
        json.dumps(
            {"ray_pseudonyms_identical_1_vs_4_workers": bodies[1] == bodies[4], "distinct_bodies": len(bodies[1])}
        ),
        flush=True,
    )


def sagemaker_transform(n: int, work: Path) -> None:
    from byom_sagemaker.testing import LocalContainer, LocalS3, LocalTransformService

    from byom_sdk import Client

    source = write_records(work / "in.jsonl", n)
    with (
        LocalS3() as s3,
        LocalContainer("tgi", max_concurrent_transforms=16) as container,
        LocalTransformService(s3.url) as service,
    ):
        s3.create_bucket("canary-bench")
        service.add_model("echo", container.url)
        model = {
            "provider": "sagemaker",
            "endpoint_name": "echo",
            "region": "us-east-1",
            "codec": "tgi",
            "credentials": s3.credentials,
        }
        audit = work / "transform.sqlite"
        started = time.perf_counter()
        with Client({"bot": model}, policy={**POLICY, "audit": {"path": str(audit)}}) as c:
            c.batch(
                source,
                work / "transform.jsonl",
                model="bot",
                runner="sagemaker-transform",
                progress=False,
                sagemaker_transform={
                    "bucket": "canary-bench",
                    "s3_endpoint_url": s3.url,
                    "sagemaker_endpoint_url": service.url,
                    "poll_interval": 0.2,
                    "shard_size": 2000,
                    "cleanup": False,
                },
            )
        stored = [body for _, body in s3.stored("canary-bench")]
        print(f"sagemaker-transform: {len(service.jobs)} transform jobs, {len(stored)} S3 objects kept", flush=True)
        check("sagemaker-transform", n, work / "transform.jsonl", audit, container.received, stored, started)


def vertex_batch(n: int, work: Path) -> None:
    from byom_vertex.testing import CONTAINERS, LocalBatchPredictionService, LocalGCS

    from byom_sdk import Client
    from byom_sdk.testing import ScriptedModel

    source = write_records(work / "in.jsonl", n)
    with LocalGCS("canary-bench") as gcs, LocalBatchPredictionService(gcs.url) as service:
        service.add_model("m1", CONTAINERS["vllm"](ScriptedModel()))
        model = {
            "provider": "vertex",
            "project": "test-project",
            "location": "us-central1",
            "endpoint_id": "1",
            "codec": "vllm",
            "credentials": {"kind": "anonymous"},
        }
        audit = work / "vertex.sqlite"
        started = time.perf_counter()
        with Client({"bot": model}, policy={**POLICY, "audit": {"path": str(audit)}}) as c:
            c.batch(
                source,
                work / "vertex.jsonl",
                model="bot",
                runner="vertex-batch",
                progress=False,
                vertex_batch={
                    "bucket": "canary-bench",
                    "model": "m1",
                    "gcs_endpoint_url": gcs.url,
                    "api_endpoint": service.target,
                    "insecure": True,
                    "poll_interval": 0.2,
                    "shard_size": 2000,
                    "batch_size": 16,
                },
            )
        stored = [data for _, data in gcs.stored()]
        print(f"vertex-batch: {len(service.jobs)} jobs, {len(stored)} files in the emulator's store", flush=True)
        check("vertex-batch", n, work / "vertex.jsonl", audit, service.sent, stored, started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runners", default=",".join(ALL))
    args = parser.parse_args()
    os.environ.update(KEYS)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    runs = {
        "local": local,
        "local-killed": local_killed,
        "ray": ray_runs,
        "sagemaker-transform": sagemaker_transform,
        "vertex-batch": vertex_batch,
    }
    for name in args.runners.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"byom-canaries-{name}-"))
        os.chdir(work)
        runs[name](args.records, work)


if __name__ == "__main__":
    main()
