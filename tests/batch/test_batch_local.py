"""The local runner end to end: canary PII through a real endpoint wire, one answer per id,
bad input answered as typed rows, resumption after a kill, bounded concurrency and rate,
and the merged audit verifying."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from byom_sagemaker.testing import LocalSageMakerServer

from byom_sdk import Client, ConfigError, Provider
from byom_sdk.batch import BatchJob, run_job
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import calls_of, read_audit, verify_audit
from byom_sdk.trust.testing import assert_no_canaries

from ._helpers import AUDIT_KEY, POLICY, assert_restored, canary_records, read_rows, rows_by_id, write_jsonl


@pytest.fixture
def endpoint():
    """A SageMaker runtime on 127.0.0.1 whose TGI container echoes the prompt it got."""
    with LocalSageMakerServer(region="eu-west-1") as server:
        server.add_endpoint("echo", "tgi")
        yield server


def _client(server, tmp_path, **policy):
    return Client(
        models={"bot": server.model_config("echo")},
        policy={**POLICY, "audit": {"path": str(tmp_path / "audit.sqlite")}, **policy},
    )


def _shard_records(tmp_path):
    records = []
    for path in sorted((tmp_path / "byom-batch").rglob("*.sqlite")):
        records.extend(entry.record for entry in read_audit(path, newest_first=False))
    return records


def test_canaries_never_reach_the_endpoint_and_every_id_is_answered_once(endpoint, tmp_path):
    """300 records holding every canary: the endpoint got none of them, the output has one
    restored answer per id, one audited call per record, and the merged audit verifies."""
    source = write_jsonl(tmp_path / "in.jsonl", canary_records(300))
    out = tmp_path / "out.jsonl"
    with _client(endpoint, tmp_path) as client:
        summary = client.batch(source, out, model="bot", concurrency=8, progress=False)
    assert (summary.ok, summary.errors) == (300, 0)
    rows = rows_by_id(out)
    assert set(rows) == {f"r{i}" for i in range(300)}
    assert_restored(rows)
    received = [request.body for request in endpoint.requests_for("echo")]
    assert len(received) == 300
    assert_no_canaries(received, where="the endpoint's request bodies")
    assert_no_canaries([p.read_bytes() for p in tmp_path.rglob("*.sqlite*")], where="the audit files")
    calls = [c for c in calls_of(_shard_records(tmp_path)) if c.get("tags", {}).get("batch_job") == summary.job_id]
    assert sorted(c["tags"]["batch_item"] for c in calls) == sorted(rows)
    assert {c["outcome"] for c in calls} == {"ok"} and {c["masking_mode"] for c in calls} == {"pseudonym"}
    result = verify_audit(tmp_path / "audit.sqlite", key=AUDIT_KEY)
    assert result.ok and result.complete, result.describe()
    assert result.merged[0]["job_id"] == summary.job_id and result.merged[0]["records"] == 600
    assert summary.audit["root"] == result.merged[0]["root"]


def test_bad_input_becomes_typed_error_rows(tmp_path):
    """Malformed lines, duplicate ids, oversized lines and invalid records are answered with
    a typed error row each (keyed ``@line:N`` when they cannot claim an id), counted by
    type; the job does not stop, and every line is in the audit."""
    lines = [
        {"id": "a", "prompt": "fine"},
        "this is not json",
        '["an", "array"]',
        {"id": "a", "prompt": "the same id again"},
        {"id": "big", "prompt": "x" * 4000},
        {"id": "both", "prompt": "p", "texts": ["t"]},
        {"id": "param", "prompt": "p", "parameters": {"max_tokens": 5, "colour": "red"}},
        {"id": "meta", "prompt": "p", "metadata": {"tags": {"n": 1}}},
        {"prompt": "no id"},
        {"id": "emb", "texts": ["one", "two"]},
        "",
        {"id": "b", "messages": [{"role": "user", "content": "hello"}]},
    ]
    source = write_jsonl(tmp_path / "in.jsonl", lines)
    source.write_bytes(b"\xef\xbb\xbf" + source.read_bytes())  # a byte-order mark, as Windows editors write
    out = tmp_path / "out.jsonl"
    with Client(models={"m": ScriptedModel()}, policy={"audit": {"path": str(tmp_path / "audit.sqlite")}}) as client:
        summary = client.batch(source, out, model="m", max_record_bytes=1024, progress=False)
    rows = rows_by_id(out)
    errors = {key: row["error"]["type"] for key, row in rows.items() if "error" in row}
    assert errors == {
        "@line:2": "MalformedRecord",
        "@line:3": "MalformedRecord",
        "@line:4": "DuplicateId",
        "big": "PayloadTooLarge",
        "both": "InvalidRecord",
        "param": "InvalidRecord",
        "meta": "InvalidRecord",
        "@line:9": "MalformedRecord",
    }
    assert rows["@line:4"]["error"]["duplicate_id"] == "a"
    assert rows["a"]["response"]["text"] == "echo: fine"
    assert rows["b"]["response"]["text"] == "echo: hello"
    assert len(rows["emb"]["response"]["vectors"]) == 2
    assert (summary.ok, summary.errors) == (3, 8)
    assert dict(summary.errors_by_type) == {
        "MalformedRecord": 3,
        "DuplicateId": 1,
        "PayloadTooLarge": 1,
        "InvalidRecord": 3,
    }
    rejects = [r for r in _shard_records(tmp_path) if r.get("kind") == "batch_reject"]
    assert sorted(r["item"] for r in rejects) == sorted(errors)
    assert verify_audit(tmp_path / "audit.sqlite", key=AUDIT_KEY).ok


def test_rerun_skips_answered_ids_and_repairs_a_torn_last_line(tmp_path):
    """A rerun answers only what is missing; a last line cut by a crash is dropped and its
    record answered again; ids answered in the first run are never answered twice."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"x{i}", "prompt": f"p{i}"} for i in range(20)])
    out = tmp_path / "out.jsonl"
    model = ScriptedModel()
    with Client(models={"m": model}, policy={"audit": {"path": str(tmp_path / "audit.sqlite")}}) as client:
        first = client.batch(source, out, model="m", progress=False)
        assert first.ok == 20
        kept = out.read_text().splitlines()[:12]
        out.write_text("\n".join(kept) + "\n" + '{"id": "x12", "respo')  # a torn write
        second = client.batch(source, out, model="m", progress=False)
        third = client.batch(source, out, model="m", progress=False)
    assert (second.resumed, second.ok) == (12, 8)
    assert (third.resumed, third.answered) == (20, 0)
    assert set(rows_by_id(out)) == {f"x{i}" for i in range(20)}
    assert len(model.requests) == 28
    assert len(verify_audit(tmp_path / "audit.sqlite", key=AUDIT_KEY).merged) == 3


def test_a_killed_job_resumes_without_duplicates(endpoint, tmp_path):
    """``byom batch run`` SIGKILLed mid-job, then run again: every id answered exactly once,
    and both runs' merges verify (the killed run's open calls are warnings, not failures)."""
    endpoint.inject("delay", times=10_000, seconds=0.02)
    config = tmp_path / "byom.toml"
    model = endpoint.model_config("echo")
    creds = model.pop("credentials")
    lines = [f'{k} = "{v}"' for k, v in model.items()]
    lines += ["[models.bot.credentials]", *[f'{k} = "{v}"' for k, v in creds.items()]]
    config.write_text(
        "[models.bot]\n" + "\n".join(lines) + '\n[trust]\nallow_loopback = true\n[trust.masking]\nmode = "pseudonym"\n'
    )
    source = write_jsonl(tmp_path / "in.jsonl", canary_records(200))
    out = tmp_path / "out.jsonl"
    command = [
        sys.executable,
        "-m",
        "byom_sdk.cli",
        "--config",
        str(config),
        "batch",
        "run",
        "--input",
        str(source),
        "--output",
        str(out),
        "--model",
        "bot",
        "--concurrency",
        "4",
        "--no-progress",
    ]
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 120
        while (not out.exists() or len(out.read_bytes().splitlines()) < 40) and time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    written = len(read_rows(out))
    assert 40 <= written < 200
    rerun = subprocess.run([*command, "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = json.loads(rerun.stdout)
    assert summary["resumed"] == written and summary["ok"] == 200 - written
    rows = rows_by_id(out)
    assert set(rows) == {f"r{i}" for i in range(200)}
    assert_restored(rows)
    result = verify_audit(tmp_path / "byom-audit.sqlite", key=AUDIT_KEY)
    assert result.ok, result.describe()
    # The killed run never merged: the resumed run merges its shard too, so every call of
    # both runs is under the root; the killed run's calls in flight are open intents.
    assert len(result.merged) == 1 and len(result.merged[0]["shards"]) == 2
    assert result.merged[0]["records"] >= 2 * 200
    assert any("without outcome" in w for w in result.warnings) or result.merged[0]["records"] == 400


class _Counting(Provider):
    """An in-process model that tracks how many calls are in flight and when each began."""

    def __init__(self) -> None:
        self.inner = ScriptedModel(delay=0.02)
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.starts: list[float] = []

    @property
    def info(self):
        return self.inner.info

    def handle_generate(self, request):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.starts.append(time.monotonic())
        try:
            return self.inner.handle_generate(request)
        finally:
            with self.lock:
                self.active -= 1


def test_concurrency_and_rate_limit_are_bounds(tmp_path, monkeypatch):
    """At most ``concurrency`` calls in flight and at most ``rate_limit`` starts per second;
    the reader stays no more than ``concurrency`` records ahead of the writer (streamed)."""
    from byom_sdk.batch import _driver

    consumed = []
    original = _driver.read_records

    def counting(*args, **kwargs):
        for record in original(*args, **kwargs):
            consumed.append(1)
            yield record

    monkeypatch.setattr(_driver, "read_records", counting)
    ahead = []
    model = _Counting()
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "prompt": f"p{i}"} for i in range(60)])
    out = tmp_path / "out.jsonl"
    original_add = _driver.BatchSummary.add

    def watch(self, row):
        ahead.append(len(consumed) - self.answered)
        original_add(self, row)

    monkeypatch.setattr(_driver.BatchSummary, "add", watch)
    with Client(models={"m": model}, policy={"audit": {"path": str(tmp_path / "a.sqlite")}}) as client:
        fast = client.batch(source, out, model="m", concurrency=5, progress=False)
        assert model.peak <= 5 and model.peak >= 3
        assert max(ahead) <= 5
        out.unlink()
        model.starts.clear()
        limited = client.batch(source, out, model="m", concurrency=20, rate_limit=40, progress=False)
    gaps = [b - a for a, b in zip(model.starts, model.starts[1:], strict=False)]
    assert limited.ok == fast.ok == 60
    assert model.starts[-1] - model.starts[0] >= 59 / 40 * 0.9
    assert sorted(gaps)[len(gaps) // 2] >= 0.02


def test_instance_models_are_borrowed_and_errors_are_rows(tmp_path):
    """A model given as an instance serves the job and stays open; calls refused by the
    gate become PolicyViolation rows, the job still completes."""
    model = ScriptedModel()
    with Client(models={"m": model}, policy={"audit": {"path": str(tmp_path / "a.sqlite")}}) as client:
        client.batch(
            write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "prompt": "hi"}]),
            tmp_path / "o.jsonl",
            model="m",
            progress=False,
        )
        assert client.model("m").generate("still open").text == "echo: still open"
    with LocalSageMakerServer(region="eu-west-1") as server:
        server.add_endpoint("echo", "tgi")
        with Client(
            models={"bot": server.model_config("echo")}, policy={"audit": {"path": str(tmp_path / "b.sqlite")}}
        ) as client:  # loopback not allowed
            summary = client.batch(tmp_path / "in.jsonl", tmp_path / "refused.jsonl", model="bot", progress=False)
        assert server.requests == []
    assert dict(summary.errors_by_type) == {"PolicyViolation": 1}
    assert read_rows(tmp_path / "refused.jsonl")[0]["error"]["type"] == "PolicyViolation"


def test_job_validation_names_the_field(tmp_path):
    with pytest.raises(ConfigError, match="concurrency"):
        BatchJob.build({"input": "i", "output": "o", "model": "m", "concurrency": 0})
    with pytest.raises(ConfigError, match="runner"):
        BatchJob.build({"input": "i", "output": "o", "model": "m", "runner": "spark"})
    with Client(models={"m": ScriptedModel()}, policy={"audit": {"path": str(tmp_path / "a.sqlite")}}) as client:
        with pytest.raises(ConfigError, match="no model named 'nope'"):
            run_job(client, BatchJob.build({"input": str(tmp_path), "output": "o", "model": "nope"}))
        with pytest.raises(ConfigError, match="input file not found"):
            run_job(client, BatchJob.build({"input": str(tmp_path / "missing"), "output": "o", "model": "m"}))
        records = write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "prompt": "hi"}])
        with pytest.raises(ConfigError, match="same file"):
            client.batch(records, records, model="m")
        with pytest.raises(ConfigError, match="is a directory"):
            client.batch(records, tmp_path, model="m")
        with pytest.raises(ConfigError, match="instance"):
            client.batch(write_jsonl(tmp_path / "in.jsonl", []), tmp_path / "o.jsonl", model="m", runner="ray")
