"""`byom audit verify | show | key-id`: exit codes (0 ok, 1 tamper or strict-unchecked, 2 bad
input), JSON output including errors, and one line without a traceback for bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from byom_sdk.trust import SqliteAuditSink, SqliteSinkConfig
from byom_sdk.trust._audit_format import head_path, key_id
from byom_sdk.trust._audit_keys import AuditKeyring
from byom_sdk.trust._cli import audit as audit_cli
from byom_sdk.trust._plugin import byom_audit_sinks, byom_cli_commands

KEY = "cli-audit-key-0123456789abcdef"
NEW = "cli-audit-key-new-0123456789ab"
UNSET = "BYOM_TEST_CLI_UNSET_KEY"


@pytest.fixture(autouse=True)
def _unset(monkeypatch):
    monkeypatch.delenv(UNSET, raising=False)


@pytest.fixture
def key_file(tmp_path) -> Path:
    path = tmp_path / "audit.key"
    path.write_text(KEY + "\n")
    return path


@pytest.fixture
def log(tmp_path) -> Path:
    path = tmp_path / "a.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path), keys=AuditKeyring.from_key(KEY))
    for i in range(6):
        sink.append({"time": f"2026-12-01T10:00:0{i}.000+00:00", "model": "m", "outcome": "ok", "latency_ms": 1.5})
    sink.close()
    return path


def run(*args: str):
    return CliRunner().invoke(audit_cli, list(args))


def no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_verify_with_key_file(log, key_file):
    result = run("verify", str(log), "--key-file", str(key_file), "--strict")
    assert result.exit_code == 0 and "ok: 6 record(s) verified" in result.stdout and "NOT checked" not in result.stdout
    report = json.loads(run("verify", str(log), "--key-file", str(key_file), "--json").stdout)
    assert report["ok"] and report["complete"] and report["records_mac_checked"] == 6
    assert report["checkpoint_mac_checked"] and report["key_ids"] == [key_id(KEY.encode())] and report["log_id"]


def test_verify_with_key_env(log, monkeypatch):
    monkeypatch.setenv("MY_AUDIT_KEY", KEY)
    assert run("verify", str(log), "--key-env", "MY_AUDIT_KEY", "--strict").exit_code == 0


def test_verify_without_key_says_what_it_could_not_check(log):
    lenient = run("verify", str(log), "--key-env", "")
    assert lenient.exit_code == 0 and "NOT checked" in lenient.stdout and "no key given" in lenient.stdout
    strict = run("verify", str(log), "--key-env", "", "--strict")
    assert strict.exit_code == 1 and "strict" in strict.stderr
    report = json.loads(run("verify", str(log), "--key-env", "", "--strict", "--json").stdout)
    assert report["ok"] and not report["complete"] and report["strict"] and report["records_mac_checked"] == 0
    assert any("MACs of 6 record(s)" in item for item in report["unchecked"])


def test_verify_reports_the_first_bad_record(log, key_file):
    conn = sqlite3.connect(log, isolation_level=None)
    conn.execute("UPDATE records SET body = '{}' WHERE seq = 2")
    conn.close()
    bad = run("verify", str(log), "--key-file", str(key_file))
    assert bad.exit_code == 1 and "FAILED at seq 2" in bad.stdout
    report = json.loads(run("verify", str(log), "--key-file", str(key_file), "--json").stdout)
    assert report["ok"] is False and report["first_bad_seq"] == 2 and "edited" in report["reason"]


def test_verify_no_head_is_unchecked(log, key_file):
    assert run("verify", str(log), "--key-file", str(key_file), "--no-head").exit_code == 0
    strict = run("verify", str(log), "--key-file", str(key_file), "--no-head", "--strict", "--json")
    assert strict.exit_code == 1 and any("head" in item for item in json.loads(strict.stdout)["unchecked"])


def _bad_inputs(tmp_path: Path, log: Path, key_file: Path) -> dict[str, tuple[list[str], str]]:
    short = tmp_path / "short.key"
    short.write_text("short")
    ring = tmp_path / "ring.json"
    ring.write_text(json.dumps({"active": "new", "keys": {"new": NEW}}))
    broken_ring = tmp_path / "broken.toml"
    broken_ring.write_text("active = [")
    not_db = tmp_path / "not.sqlite"
    not_db.write_bytes(b"definitely not sqlite" * 64)
    bad_head = tmp_path / "bad-head.sqlite"
    bad_head.write_bytes(log.read_bytes())
    head_path(bad_head).write_text("{}")
    return {
        "missing-log": (["verify", str(tmp_path / "nope.sqlite")], "nope.sqlite"),
        "not-a-database": (["verify", str(not_db)], "not.sqlite"),
        "missing-key-file": (["verify", str(log), "--key-file", str(tmp_path / "none.key")], "none.key"),
        "short-key-file": (["verify", str(log), "--key-file", str(short)], "short.key"),
        "malformed-keyring": (["verify", str(log), "--keyring", str(broken_ring)], "broken.toml"),
        "keyring-without-log-key": (["verify", str(log), "--keyring", str(ring)], "ring.json"),
        "key-file-and-keyring": (["verify", str(log), "--key-file", str(key_file), "--keyring", str(ring)], "use one"),
        "head-not-a-checkpoint": (["verify", str(bad_head), "--key-file", str(key_file)], "bad-head.sqlite.head"),
        "show-missing-log": (["show", str(tmp_path / "nope.sqlite")], "nope.sqlite"),
        "key-id-bad-keyring": (["key-id", "--keyring", str(broken_ring)], "broken.toml"),
    }


CASES = [
    "missing-log",
    "not-a-database",
    "missing-key-file",
    "short-key-file",
    "malformed-keyring",
    "keyring-without-log-key",
    "key-file-and-keyring",
    "head-not-a-checkpoint",
    "show-missing-log",
    "key-id-bad-keyring",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_2(tmp_path, log, key_file, case):
    args, needle = _bad_inputs(tmp_path, log, key_file)[case]
    before = log.read_bytes()
    plain = run(*args)
    assert plain.exit_code == 2, plain.output
    no_traceback(plain)
    lines = plain.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    as_json = run(*args, "--json")
    assert as_json.exit_code == 2
    error = json.loads(as_json.stdout)["error"]
    assert error["type"] == "AuditError" and needle in error["message"]
    assert log.read_bytes() == before  # nothing appended


def test_show(log):
    shown = run("show", str(log), "--limit", "2")
    assert shown.exit_code == 0 and shown.stdout.count("\n") == 3 and "2026-12-01T10:00:05" in shown.stdout
    rows = [json.loads(line) for line in run("show", str(log), "--json", "--limit", "0").stdout.splitlines()]
    assert [r["seq"] for r in rows] == [6, 5, 4, 3, 2, 1] and rows[0]["kid"] == key_id(KEY.encode())


def test_show_marks_calls_and_rotations(tmp_path):
    path = tmp_path / "r.sqlite"
    ring = tmp_path / "ring.json"
    ring.write_text(json.dumps({"active": "b", "keys": {"a": KEY, "b": NEW}}))
    SqliteAuditSink(SqliteSinkConfig(path=path), keys=AuditKeyring.from_key(KEY)).append({"i": 0})
    sink = SqliteAuditSink(SqliteSinkConfig(path=path, keyring=ring, hmac_key_env=None))
    sink.append({"kind": "intent", "call_id": "c-1", "time": "t"})
    sink.close()
    out = run("show", str(path)).stdout
    assert f"key rotation {key_id(KEY.encode())} -> {key_id(NEW.encode())}" in out
    assert "intent" in out and "call c-1" in out
    assert run("verify", str(path), "--keyring", str(ring), "--strict").exit_code == 0


def test_key_id(tmp_path, key_file):
    single = run("key-id", "--key-file", str(key_file))
    assert single.exit_code == 0 and single.stdout.split() == [key_id(KEY.encode()), "(active)"]
    ring = tmp_path / "ring.toml"
    ring.write_text(f'active = "new"\n[keys]\nold = "{KEY}"\nnew = "{NEW}"\n')
    listed = json.loads(run("key-id", "--keyring", str(ring), "--json").stdout)
    assert listed["keys"] == [
        {"kid": key_id(KEY.encode()), "label": "old", "active": False},
        {"kid": key_id(NEW.encode()), "label": "new", "active": True},
    ]
    missing = run("key-id", "--key-env", UNSET)
    assert missing.exit_code == 2 and UNSET in missing.stderr


def test_plugin_registers_the_cli_and_the_sinks(tmp_path):
    [group] = byom_cli_commands()
    assert group is audit_cli and {"verify", "show", "key-id"} <= set(audit_cli.commands)
    specs = {spec.name: spec for spec in byom_audit_sinks()}
    assert set(specs) == {"sqlite", "memory"}
    config = specs["sqlite"].config_schema.model_validate({"path": tmp_path / "p.sqlite", "hmac_key_env": None})
    sink = specs["sqlite"].factory(config)
    sink.open()
    sink.append({"i": 1})
    sink.close()
    assert json.loads(run("verify", str(tmp_path / "p.sqlite"), "--json").stdout)["records"] == 1
    memory = specs["memory"].factory(None)
    memory.open()
    memory.append({"i": 1})
    assert memory.verify().ok


def test_a_key_variable_named_on_the_command_line_but_unset_is_an_error(log, monkeypatch):
    monkeypatch.delenv("MY_UNSET_AUDIT_KEY", raising=False)
    result = run("verify", str(log), "--key-env", "MY_UNSET_AUDIT_KEY")
    no_traceback(result)
    assert result.exit_code == 2 and "MY_UNSET_AUDIT_KEY" in result.output
    result = run("verify", str(log), "--key-env", "MY_UNSET_AUDIT_KEY", "--json")
    error = json.loads(result.output)["error"]
    assert result.exit_code == 2 and error["exit_code"] == 2 and error["retryable"] is False
