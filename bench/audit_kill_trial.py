"""Audit crash trial: SIGKILL a writer at random moments, verify the log with the key after
every kill, and count false alarms (the log is honest, so every failure is one).

Each kill starts a fresh interpreter (``python -c``) running the real ``SqliteAuditSink``
with an audit key, appending intent/outcome pairs as fast as it can and printing the seq of
each committed outcome; it is killed at a random moment, sometimes while it is still
creating or opening the log. After the kill the log must verify with the key (a checkpoint
behind the log is a warning, not a failure) and hold every acknowledged record.

It also measures what one append costs (``synchronous=NORMAL``, the default, and ``FULL``,
``durable = true``) with a runtime-sized record.

Run::

    .venv/bin/python bench/audit_kill_trial.py                 # 200 kills
    .venv/bin/python bench/audit_kill_trial.py --kills 1000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from byom_sdk.trust import SqliteAuditSink, SqliteSinkConfig, verify_audit  # noqa: E402

KEY = "kill-trial-audit-key-0123456789abcdef"
ENV = "BYOM_KILL_TRIAL_KEY"

WRITER = f"""
import os, sys, time
from datetime import datetime, timezone
from pathlib import Path
from byom_sdk.trust import SqliteAuditSink, SqliteSinkConfig
sink = SqliteAuditSink(SqliteSinkConfig(path=Path(sys.argv[1]), hmac_key_env={ENV!r}))
sink.open()
print("ready", flush=True)
i, deadline = 0, time.monotonic() + 30
while time.monotonic() < deadline:
    call = f"{{os.getpid()}}-{{i}}"
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    sink.append({{"kind": "intent", "call_id": call, "time": now, "model": "m", "provider": "sagemaker"}})
    entry = sink.append({{"kind": "outcome", "call_id": call, "sent": True, "outcome": "ok", "time": now}})
    print(entry.seq, flush=True)
    i += 1
"""


def _record() -> dict[str, object]:
    """A record shaped like the runtime's (about 700 bytes of canonical JSON)."""
    return {
        "v": 2,
        "kind": "outcome",
        "call_id": "0f8e2c7a-5b1d-4d8e-9a3f-2b6c1e0d9a7f",
        "sent": True,
        "time": "2026-12-06T10:00:00.000+00:00",
        "request_id": "req-0123456789abcdef",
        "tenant": "acme",
        "user": "u-42",
        "conversation_id": "conv-7",
        "tags": {"app": "support"},
        "model": "support-bot",
        "provider": "sagemaker",
        "boundary": {
            "location_kind": "region",
            "network_path": "public",
            "endpoint": "runtime.sagemaker.eu-west-1.amazonaws.com",
            "tls": True,
            "retention": "none",
            "attestations": [],
        },
        "decisions": [{"rule": "allowed_regions", "allowed": True, "detail": "eu-west-1 matches eu-*"}],
        "entities": {"EMAIL": 2, "PHONE": 1},
        "placeholders": {"sent": 3, "restored": 3, "unrestored": 0},
        "usage": {"input_tokens": 512, "output_tokens": 128},
        "finish_reasons": ["stop"],
        "outcome": "ok",
        "latency_ms": 812.4,
        "trust_ms": 0.41,
        "attempts": 1,
        "prompt_hmac": "a" * 64,
        "response_hmac": "b" * 64,
        "hmac_key_id": "0123456789abcdef",
    }


def append_cost(samples: int, durable: bool) -> dict[str, float]:
    os.environ[ENV] = KEY
    record = _record()
    with tempfile.TemporaryDirectory() as tmp:
        sink = SqliteAuditSink(SqliteSinkConfig(path=Path(tmp) / "a.sqlite", hmac_key_env=ENV, durable=durable))
        sink.open()
        for _ in range(200):  # warm up: page cache, WAL growth
            sink.append(record)
        costs = []
        for _ in range(samples):
            start = time.perf_counter_ns()
            sink.append(record)
            costs.append((time.perf_counter_ns() - start) / 1e6)
        sink.close()
    cuts = statistics.quantiles(costs, n=100)
    return {"p50_ms": cuts[49], "p95_ms": cuts[94], "p99_ms": cuts[98], "mean_ms": statistics.fmean(costs)}


def kill_trial(kills: int, seed: int, max_delay: float, fresh_every: int) -> dict[str, object]:
    os.environ[ENV] = KEY
    rng = random.Random(seed)
    false_alarms: list[dict[str, object]] = []
    lost: list[int] = []
    unanchored = records = 0
    writing_s = 0.0
    total_written = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit-0.sqlite"
        base = 0
        for kill in range(kills):
            if fresh_every and kill and kill % fresh_every == 0:
                path = Path(tmp) / f"audit-{kill}.sqlite"  # keeps each verify short
                base = 0
            proc = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
            )
            assert proc.stdout is not None
            early = kill % 5 == 0  # every fifth kill may land while the log is created or opened
            if not early:
                proc.stdout.readline()
            started = time.monotonic()
            time.sleep(rng.uniform(0, max_delay))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            writing_s += time.monotonic() - started
            acked = [int(line) for line in proc.stdout.read().split() if line.isdigit()]
            proc.stdout.close()
            if not path.exists():
                continue
            result = verify_audit(path, key=KEY)
            if not result.ok:
                false_alarms.append({"kill": kill, "seq": result.first_bad_seq, "reason": result.reason})
                continue
            if result.records < max(acked, default=0):
                lost.append(kill)
            unanchored += result.unanchored > 0
            total_written += result.records - base
            base = result.records
            records = result.records
    return {
        "kills": kills,
        "false_alarms": len(false_alarms),
        "false_alarm_details": false_alarms[:10],
        "kills_losing_acknowledged_records": len(lost),
        "kills_leaving_an_unanchored_tail": unanchored,
        "records_committed": total_written,
        "records_in_last_log": records,
        "records_per_second_while_writing": total_written / writing_s if writing_s else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--max-delay", type=float, default=0.05, help="seconds a writer runs at most")
    parser.add_argument("--fresh-every", type=int, default=50, help="start a new log every N kills (0: never)")
    parser.add_argument("--samples", type=int, default=5000, help="appends timed per synchronous mode")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    costs = {"normal": append_cost(args.samples, durable=False), "full": append_cost(args.samples, durable=True)}
    for mode, cost in costs.items():
        print(
            f"append cost, synchronous={mode.upper():<6}: p50 {cost['p50_ms']:.3f} ms  p95 {cost['p95_ms']:.3f} ms"
            f"  p99 {cost['p99_ms']:.3f} ms  (intent + outcome p50 ~{2 * cost['p50_ms']:.3f} ms)"
        )
    started = time.monotonic()
    trial = kill_trial(args.kills, args.seed, args.max_delay, args.fresh_every)
    print(
        f"kill trial: {trial['false_alarms']} false alarm(s) / {trial['kills']} kills; "
        f"{trial['kills_losing_acknowledged_records']} kill(s) lost an acknowledged record; "
        f"{trial['kills_leaving_an_unanchored_tail']} kill(s) left a checkpoint behind the log (warning, re-anchored); "
        f"{trial['records_committed']} records committed, "
        f"{trial['records_per_second_while_writing']:.0f} records/s while writing "
        f"({time.monotonic() - started:.0f} s)"
    )
    for alarm in trial["false_alarm_details"]:  # type: ignore[attr-defined]
        print(f"  false alarm: {alarm}")
    if args.json:
        args.json.write_text(json.dumps({"append_cost": costs, "kill_trial": trial}, indent=2))
    return 1 if trial["false_alarms"] or trial["kills_losing_acknowledged_records"] else 0


if __name__ == "__main__":
    sys.exit(main())
