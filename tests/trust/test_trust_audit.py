"""The audit chain: tamper detection, concurrent writers, the CLI."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import sqlite3
import threading
import warnings
from pathlib import Path

from click.testing import CliRunner

from byom_sdk.trust import MemoryAuditSink, SqliteAuditSink, SqliteSinkConfig, read_audit, verify_audit
from byom_sdk.trust._audit import chain_hash, head_path, record_mac
from byom_sdk.trust._cli import audit as audit_cli

KEY = b"test-audit-key-0123456789"


def fill(path: Path, n: int = 6, key_env: str | None = None) -> None:
    sink = SqliteAuditSink(SqliteSinkConfig(path=path, hmac_key_env=key_env))
    for i in range(n):
        sink.append({"time": f"t{i}", "model": "m", "outcome": "ok", "i": i})
    sink.close()


@contextlib.contextmanager
def db(path: Path):
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def test_intact_chain_verifies(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path)
    result = verify_audit(path)
    assert result.ok and result.records == 6 and result.head_checked
    assert [e.record["i"] for e in read_audit(path, limit=2)] == [5, 4]


def test_edit_a_field(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path)
    with db(path) as conn:
        body = conn.execute("SELECT body FROM records WHERE seq = 3").fetchone()[0]
        conn.execute("UPDATE records SET body = ? WHERE seq = 3", (body.replace('"ok"', '"blocked"'),))
    result = verify_audit(path)
    assert not result.ok and result.first_bad_seq == 3 and "edited" in result.reason


def test_edit_and_rehash_one_record(tmp_path):
    # Recomputing the edited record's own hash is not enough: the next record's prev_hash
    # still points at the original.
    path = tmp_path / "a.sqlite"
    fill(path)
    with db(path) as conn:
        seq, prev, body = conn.execute("SELECT seq, prev_hash, body FROM records WHERE seq = 2").fetchone()
        body = body.replace('"m"', '"other"')
        conn.execute("UPDATE records SET body = ?, hash = ? WHERE seq = 2", (body, chain_hash(seq, prev, body)))
    result = verify_audit(path)
    assert not result.ok and result.first_bad_seq == 3


def test_delete_a_row(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path)
    with db(path) as conn:
        conn.execute("DELETE FROM records WHERE seq = 4")
    result = verify_audit(path)
    assert not result.ok and result.first_bad_seq == 4 and "missing" in result.reason


def test_delete_and_renumber(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path)
    with db(path) as conn:
        conn.execute("DELETE FROM records WHERE seq = 2")
        for seq in range(3, 7):
            conn.execute("UPDATE records SET seq = ? WHERE seq = ?", (seq - 1, seq))
    result = verify_audit(path)
    assert not result.ok and result.first_bad_seq == 2


def test_swap_two_rows(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path)
    with db(path) as conn:
        conn.execute("UPDATE records SET seq = -1 WHERE seq = 2")
        conn.execute("UPDATE records SET seq = 2 WHERE seq = 3")
        conn.execute("UPDATE records SET seq = 3 WHERE seq = -1")
    result = verify_audit(path)
    assert not result.ok and result.first_bad_seq == 2


def test_insert_a_forged_row_in_the_middle(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path)
    with db(path) as conn:
        for seq in range(6, 3, -1):
            conn.execute("UPDATE records SET seq = ? WHERE seq = ?", (seq + 1, seq))
        prev = conn.execute("SELECT hash FROM records WHERE seq = 3").fetchone()[0]
        body = json.dumps({"forged": True})
        conn.execute("INSERT INTO records VALUES (4, 't', ?, ?, '', ?)", (prev, chain_hash(4, prev, body), body))
    result = verify_audit(path)
    assert not result.ok and result.first_bad_seq == 5  # the row after it no longer chains


def test_truncated_tail_detected_by_head(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path)
    with db(path) as conn:
        conn.execute("DELETE FROM records WHERE seq >= 5")
    result = verify_audit(path)
    assert not result.ok and result.first_bad_seq == 5 and "truncated" in result.reason
    # Without the head file, a clean cut of the newest records is undetectable (documented).
    loose = verify_audit(path, check_head=False)
    assert loose.ok and loose.warnings


def test_forged_append_detected_by_head_and_mac(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_KEY", KEY.decode())
    path = tmp_path / "a.sqlite"
    fill(path, key_env="AUDIT_KEY")
    assert verify_audit(path, key=KEY).ok
    with db(path) as conn:
        prev = conn.execute("SELECT hash FROM records WHERE seq = 6").fetchone()[0]
        body = json.dumps({"forged": True})
        digest = chain_hash(7, prev, body)
        conn.execute("INSERT INTO records VALUES (7, 't', ?, ?, 'bad', ?)", (prev, digest, body))
    by_head = verify_audit(path)
    assert not by_head.ok and by_head.first_bad_seq == 7
    # An attacker who also rewrites the head still lacks the key.
    head_path(path).write_text(json.dumps({"seq": 7, "hash": digest, "mac": "bad"}))
    assert verify_audit(path).ok  # a plain SHA-256 chain cannot tell (documented)
    by_mac = verify_audit(path, key=KEY)
    assert not by_mac.ok and by_mac.first_bad_seq == 7 and "MAC" in by_mac.reason
    assert record_mac(KEY, digest) != "bad"


def test_wrong_key_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_KEY", KEY.decode())
    path = tmp_path / "a.sqlite"
    fill(path, n=2, key_env="AUDIT_KEY")
    result = verify_audit(path, key=b"another key")
    assert not result.ok and result.first_bad_seq == 1


def test_memory_sink_chain():
    sink = MemoryAuditSink(key=KEY)
    for i in range(3):
        sink.append({"i": i})
    assert sink.verify().ok
    sink.entries[1] = type(sink.entries[1])(2, sink.entries[1].prev_hash, sink.entries[1].hash, "", '{"i":9}')
    assert sink.verify().first_bad_seq == 2


# -- concurrency -----------------------------------------------------------------------------


def test_threads_leave_a_valid_chain(tmp_path):
    path = tmp_path / "a.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path))

    def work(t):
        for i in range(40):
            sink.append({"thread": t, "i": i})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sink.close()
    result = verify_audit(path)
    assert result.ok and result.records == 320


def _append_from_process(path: str, worker: int, count: int) -> None:
    sink = SqliteAuditSink(SqliteSinkConfig(path=Path(path)))
    for i in range(count):
        sink.append({"worker": worker, "i": i})
    sink.close()


def test_processes_leave_a_valid_chain(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path, n=1)  # the file exists before the writers race
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    procs = [ctx.Process(target=_append_from_process, args=(str(path), w, 40)) for w in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        for p in procs:
            p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)
    result = verify_audit(path)
    assert result.ok and result.records == 161
    workers = {e.record.get("worker") for e in read_audit(path)}
    assert workers == {None, 0, 1, 2, 3}


def test_processes_race_on_a_new_file(tmp_path):
    path = tmp_path / "fresh.sqlite"
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    procs = [ctx.Process(target=_append_from_process, args=(str(path), w, 15)) for w in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        for p in procs:
            p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)
    assert verify_audit(path).records == 45


# -- CLI -------------------------------------------------------------------------------------


def test_cli_verify_and_show(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path)
    runner = CliRunner()
    ok = runner.invoke(audit_cli, ["verify", str(path)])
    assert ok.exit_code == 0 and "6 record(s) verified" in ok.output
    shown = runner.invoke(audit_cli, ["show", str(path), "--limit", "2"])
    assert shown.exit_code == 0 and shown.output.count("\n") == 3
    as_json = runner.invoke(audit_cli, ["show", str(path), "--json", "--limit", "0"])
    rows = [json.loads(line) for line in as_json.output.splitlines()]
    assert [r["seq"] for r in rows] == [6, 5, 4, 3, 2, 1] and rows[0]["i"] == 5
    with db(path) as conn:
        conn.execute("UPDATE records SET body = '{}' WHERE seq = 2")
    bad = runner.invoke(audit_cli, ["verify", str(path)])
    assert bad.exit_code == 1 and "seq 2" in bad.output
    report = json.loads(runner.invoke(audit_cli, ["verify", str(path), "--json"]).output)
    assert report["ok"] is False and report["first_bad_seq"] == 2
    missing = runner.invoke(audit_cli, ["verify", str(tmp_path / "nope.sqlite")])
    assert missing.exit_code == 2


def test_cli_is_registered(registry):
    names = [getattr(cmd, "name", None) for _, cmd in registry.cli_commands()]
    assert "audit" in names
