"""The audit store: chain basics, the sink interface, concurrent writers, format v1 logs.

Tampering is covered by test_audit_tamper_matrix.py, keys by test_audit_keys.py, call
pairing by test_audit_calls.py, crashes by test_audit_crash.py, the CLI by test_audit_cli.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import sqlite3
import threading
import warnings
from pathlib import Path

import pytest

from byom_sdk import AuditError
from byom_sdk.trust import MemoryAuditSink, SqliteAuditSink, SqliteSinkConfig, read_audit, verify_audit
from byom_sdk.trust._audit import AuditSink, head_path
from byom_sdk.trust._audit_format import NO_KEY, Checkpoint, record_hash
from byom_sdk.trust._audit_keys import AuditKeyring

KEY = b"test-audit-key-0123456789"


def fill(path: Path, n: int = 6, key: bytes | None = None) -> None:
    keys = AuditKeyring.from_key(key) if key else AuditKeyring()
    sink = SqliteAuditSink(SqliteSinkConfig(path=path), keys=keys)
    for i in range(n):
        sink.append({"time": f"2026-01-01T00:00:0{i}Z", "model": "m", "outcome": "ok", "i": i})
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
    fill(path, key=KEY)
    result = verify_audit(path, key=KEY)
    assert result.ok and result.complete and result.records == 6
    assert result.head_checked and result.checkpoint_mac_checked and result.records_mac_checked == 6
    assert [e.record["i"] for e in read_audit(path, limit=2)] == [5, 4]
    assert [e.seq for e in read_audit(path, newest_first=False)] == [1, 2, 3, 4, 5, 6]


def test_log_is_created_with_header_and_empty_checkpoint(tmp_path):
    path = tmp_path / "new.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path), keys=AuditKeyring.from_key(KEY))
    sink.open()
    sink.open()  # idempotent
    with db(path) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    assert meta["format"] == "byom-audit/v2" and meta["kid"] == sink.key_id and meta["log_id"] == sink.log_id
    head = Checkpoint.parse(head_path(path).read_bytes())
    assert head is not None and head.size == 0 and head.log_id == sink.log_id and head.mac_ok(KEY)
    result = verify_audit(path, key=KEY)
    assert result.ok and result.records == 0 and result.complete
    sink.close()


def test_time_column_is_gone_and_time_is_in_the_hash(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path, n=1)
    with db(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(records)")]
        seq, prev, kid, body, digest = conn.execute("SELECT seq, prev_hash, kid, body, hash FROM records").fetchone()
    assert "time" not in columns
    assert record_hash(seq, prev, kid, body) == digest
    assert record_hash(seq, prev, kid, body.replace("00:00:00", "00:00:01")) != digest


def test_domain_separation_of_record_hash():
    # A plain SHA-256 over the same fields (the v1 construction) is not the v2 hash.
    body = '{"a":1}'
    prev = "0" * 64
    assert record_hash(1, prev, NO_KEY, body) != hashlib.sha256(f"1\n{prev}\n{body}".encode()).hexdigest()


def test_memory_sink_chain_and_checkpoint():
    sink = MemoryAuditSink(key=KEY)
    assert isinstance(sink, AuditSink)
    sink.open()
    for i in range(3):
        sink.append({"i": i})
    result = sink.verify()
    assert result.ok and result.complete and result.records == 3 and sink.head.size == 3
    entry = sink.entries[1]
    sink.entries[1] = type(entry)(2, entry.prev_hash, entry.hash, entry.mac, '{"i":9}', entry.kid)
    assert sink.verify().first_bad_seq == 2


def test_memory_sink_truncation_detected_by_its_checkpoint():
    sink = MemoryAuditSink(key=KEY)
    for i in range(3):
        sink.append({"i": i})
    del sink.entries[-1]
    result = sink.verify()
    assert not result.ok and result.first_bad_seq == 3 and "truncated" in (result.reason or "")


def test_sqlite_sink_satisfies_the_protocol(tmp_path):
    assert isinstance(SqliteAuditSink(SqliteSinkConfig(path=tmp_path / "x.sqlite")), AuditSink)


def test_append_reopens_after_close(tmp_path):
    path = tmp_path / "a.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path))
    sink.append({"i": 1})
    sink.close()
    sink.append({"i": 2})
    sink.close()
    assert verify_audit(path).records == 2


def test_reserved_and_unserialisable_records_are_refused(tmp_path):
    path = tmp_path / "a.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path))
    sink.open()
    with pytest.raises(AuditError, match="reserved"):
        sink.append({"kind": "rotation", "to_kid": "0" * 16})
    with pytest.raises(AuditError, match="JSON") as err:
        sink.append({"x": float("nan")})
    assert err.value.path == str(path)
    with pytest.raises(AuditError, match="JSON"):
        sink.append({"x": object()})
    sink.close()
    assert verify_audit(path).records == 0


def test_unwritable_store_is_refused_at_open_naming_the_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    sink = SqliteAuditSink(SqliteSinkConfig(path=blocker / "audit.sqlite"))
    with pytest.raises(AuditError, match="cannot be opened for writing") as err:
        sink.open()
    assert err.value.path == str(blocker / "audit.sqlite")


def test_corrupt_store_is_refused_at_open(tmp_path):
    path = tmp_path / "a.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(AuditError, match=r"a\.sqlite"):
        SqliteAuditSink(SqliteSinkConfig(path=path)).open()


def test_append_failure_is_an_audit_error_not_sqlite(tmp_path):
    path = tmp_path / "a.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path, busy_timeout_ms=50))
    sink.open()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the timeout
    try:
        with pytest.raises(AuditError, match="could not be written") as err:
            sink.append({"i": 1})
        assert err.value.path == str(path)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    sink.append({"i": 2})
    sink.close()
    assert verify_audit(path).records == 1


# -- concurrency -----------------------------------------------------------------------------


def test_threads_leave_a_valid_chain(tmp_path):
    path = tmp_path / "a.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path), keys=AuditKeyring.from_key(KEY))

    def work(t):
        for i in range(40):
            sink.append({"thread": t, "i": i})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sink.close()
    result = verify_audit(path, key=KEY)
    assert result.ok and result.complete and result.records == 320 and result.unanchored == 0


def _append_from_process(path: str, worker: int, count: int) -> None:
    sink = SqliteAuditSink(SqliteSinkConfig(path=Path(path)), keys=AuditKeyring.from_key(KEY))
    for i in range(count):
        sink.append({"worker": worker, "i": i})
    sink.close()


def _run_processes(path: Path, workers: int, count: int) -> None:
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    procs = [ctx.Process(target=_append_from_process, args=(str(path), w, count)) for w in range(workers)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        for p in procs:
            p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)


def test_processes_leave_a_valid_chain(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path, n=1, key=KEY)  # the file exists before the writers race
    _run_processes(path, 4, 40)
    result = verify_audit(path, key=KEY)
    # The head only moves forward, so concurrent writers leave it at the last record.
    assert result.ok and result.complete and result.records == 161 and result.unanchored == 0
    workers = {e.record.get("worker") for e in read_audit(path)}
    assert workers == {None, 0, 1, 2, 3}


def test_processes_race_on_a_new_file(tmp_path):
    path = tmp_path / "fresh.sqlite"
    _run_processes(path, 3, 15)
    result = verify_audit(path, key=KEY)
    assert result.ok and result.complete and result.records == 45


# -- format v1 -------------------------------------------------------------------------------


def _v1_log(path: Path) -> None:
    with db(path) as conn:
        conn.execute(
            "CREATE TABLE records (seq INTEGER PRIMARY KEY, time TEXT NOT NULL, prev_hash TEXT NOT NULL,"
            " hash TEXT NOT NULL, mac TEXT NOT NULL, body TEXT NOT NULL)"
        )
        prev = "0" * 64
        for seq in (1, 2):
            body = json.dumps({"i": seq})
            digest = hashlib.sha256(f"{seq}\n{prev}\n{body}".encode()).hexdigest()
            conn.execute("INSERT INTO records VALUES (?, 't', ?, ?, '', ?)", (seq, prev, digest, body))
            prev = digest
    head_path(path).write_text(json.dumps({"seq": 2, "hash": prev, "mac": ""}))


def test_v1_log_verifies_read_only_and_is_not_extended(tmp_path):
    path = tmp_path / "old.sqlite"
    _v1_log(path)
    result = verify_audit(path)
    assert result.ok and result.format == "byom-audit/v1" and result.records == 2 and not result.complete
    with db(path) as conn:
        conn.execute("UPDATE records SET body = '{\"i\":9}' WHERE seq = 2")
    assert verify_audit(path).first_bad_seq == 2
    with pytest.raises(AuditError, match="format v1") as err:
        SqliteAuditSink(SqliteSinkConfig(path=path)).open()
    assert err.value.path == str(path)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_sink_used_across_fork_reopens_in_the_child(tmp_path):
    path = tmp_path / "a.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path), keys=AuditKeyring.from_key(KEY))
    sink.append({"who": "parent", "i": 0})
    parent_head_fd = sink._head_fd

    def child_work():
        for i in range(5):
            sink.append({"who": "child", "i": i})
        # flock is per open file: the child must not write the head through the parent's.
        os._exit(0 if sink._head_fd != parent_head_fd else 3)

    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=child_work)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        child.start()
    child.join(60)
    assert child.exitcode == 0
    sink.append({"who": "parent", "i": 1})
    sink.close()
    result = verify_audit(path, key=KEY)
    assert result.ok and result.complete and result.records == 7 and result.unanchored == 0


def test_a_never_initialised_file_is_ok_but_incomplete_and_is_initialised_by_a_writer(tmp_path):
    path = tmp_path / "a.sqlite"
    # What a writer killed before its first commit leaves: its (empty) head file, then the database.
    (tmp_path / "a.sqlite.head").touch()
    sqlite3.connect(path).close()
    result = verify_audit(path)
    assert result.ok and result.records == 0 and not result.complete
    assert list(read_audit(path)) == []
    fill(path, n=1, key=KEY)
    assert verify_audit(path, key=KEY).complete


@pytest.mark.parametrize("with_key", [True, False])
def test_a_log_wiped_down_to_no_tables_and_no_head_fails(tmp_path, with_key):
    path = tmp_path / "a.sqlite"
    fill(path, n=3, key=KEY)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE records")
        conn.execute("DROP TABLE meta")
    (tmp_path / "a.sqlite.head").unlink()
    result = verify_audit(path, key=KEY if with_key else None)
    assert not result.ok and "wiped" in (result.reason or "")


def test_an_unrelated_sqlite_database_is_not_an_audit_log(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")
    result = verify_audit(path)
    assert not result.ok and "not a byom audit log" in (result.reason or "")


def test_a_fifo_in_place_of_the_head_file_is_an_error_not_a_hang(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path, n=1, key=KEY)
    head = tmp_path / "a.sqlite.head"
    head.unlink()
    os.mkfifo(head)
    with pytest.raises(AuditError, match="not a regular file"):
        verify_audit(path, key=KEY)


def test_a_seq_that_is_no_integer_is_a_broken_chain_not_a_crash(tmp_path):
    path = tmp_path / "a.sqlite"
    fill(path, n=3, key=KEY)
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE records RENAME TO old")
        conn.execute("CREATE TABLE records (seq, prev_hash, hash, kid, mac, body)")
        conn.execute("INSERT INTO records SELECT * FROM old")
        conn.execute("DROP TABLE old")
        conn.execute("UPDATE records SET seq = '2x' WHERE seq = 2")
    result = verify_audit(path, key=KEY)
    assert not result.ok
