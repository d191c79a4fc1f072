"""``byom batch run``: options or a job file, the summary, exit codes, and ``byom audit
verify`` over the result; ``import byom_sdk`` loads nothing of batch."""

from __future__ import annotations

import json
import subprocess
import sys

from byom_sdk.cli import main

from ._helpers import read_rows, write_jsonl

CONFIG = """
[models.bot]
provider = "scripted"

[trust.masking]
mode = "pseudonym"
"""


def test_job_file_runs_and_the_audit_verifies(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "byom.toml").write_text(CONFIG)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    write_jsonl(jobs / "in.jsonl", [{"id": f"q{i}", "prompt": f"mail me at q{i}@example.com"} for i in range(5)])
    (jobs / "job.toml").write_text('input = "in.jsonl"\noutput = "out.jsonl"\nmodel = "bot"\nconcurrency = 2\n')
    assert main(["batch", "run", "--job", str(jobs / "job.toml"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] == 5 and summary["runner"] == "local" and summary["audit"]["seq"] == 1
    rows = read_rows(jobs / "out.jsonl")
    assert (
        rows[0]["response"]["text"].startswith("echo: mail me at q") and "@example.com" in rows[0]["response"]["text"]
    )
    assert main(["audit", "verify", "--strict"]) == 0
    assert "batch merge" in capsys.readouterr().out


def test_options_summary_and_exit_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "byom.toml").write_text(CONFIG)
    write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "prompt": "hi"}, "not json"])
    args = ["batch", "run", "--input", "in.jsonl", "--output", "out.jsonl", "--model", "bot", "--no-progress"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "1 ok, 1 errors" in table and "MalformedRecord" in table
    assert main([*args, "--fail-on-errors"]) == 0  # nothing new: the error row was written last time
    (tmp_path / "out.jsonl").unlink()
    assert main([*args, "--fail-on-errors"]) == 1
    assert main(["batch", "run", "--input", "in.jsonl"]) == 2  # --output and --model missing
    assert main([*args[:-1], "--model", "nope"]) == 3


def test_import_byom_sdk_loads_no_batch_code():
    code = (
        "import sys, byom_sdk; c = byom_sdk.Client; print(sorted(m for m in sys.modules if 'batch' in m or m == 'ray'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_runner_without_its_dependency_exits_5(tmp_path, capsys, monkeypatch):
    from byom_sdk.batch import _driver

    async def missing(context, items, emit):
        raise ImportError("the ray runner needs Ray Data: pip install 'byom-sdk[ray]'")

    monkeypatch.setattr(_driver, "_runner", lambda name: missing)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "byom.toml").write_text(CONFIG)
    write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "prompt": "hi"}])
    args = ["batch", "run", "--input", "in.jsonl", "--output", "o.jsonl", "--model", "bot", "--runner", "ray"]
    assert main(args) == 5
    assert "byom-sdk[ray]" in capsys.readouterr().err
