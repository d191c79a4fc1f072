"""Crash safety: writers SIGKILLed at random moments leave a log that verifies with the key
(no false alarm) and holds every record they saw committed. The full trial (200+ kills) is
bench/audit_kill_trial.py; this one stays short for CI."""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from byom_sdk.trust import SqliteAuditSink, SqliteSinkConfig, read_audit, verify_audit
from byom_sdk.trust._audit_format import utc_now

KEY = "crash-trial-audit-key-0123456789"
ENV = "BYOM_CRASH_TRIAL_KEY"
KILLS = 20

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")


def _writer_loop(path: str, ack_fd: int) -> None:
    """Append intent/outcome pairs forever, acknowledging each committed outcome's seq."""
    sink = SqliteAuditSink(SqliteSinkConfig(path=Path(path), hmac_key_env=ENV))
    sink.open()
    os.write(ack_fd, struct.pack(">q", 0))
    deadline = time.monotonic() + 10  # never outlive a crashed parent for long
    i = 0
    while time.monotonic() < deadline:
        call = f"{os.getpid()}-{i}"
        sink.append({"kind": "intent", "call_id": call, "time": utc_now()})
        entry = sink.append({"kind": "outcome", "call_id": call, "sent": True, "outcome": "ok", "time": utc_now()})
        os.write(ack_fd, struct.pack(">q", entry.seq))
        i += 1


def _fork_writer(path: Path) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child is killed
        try:
            os.close(read_fd)
            _writer_loop(str(path), write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    return pid, read_fd


def _acked(read_fd: int) -> list[int]:
    data = b""
    while chunk := os.read(read_fd, 1 << 16):
        data += chunk
    os.close(read_fd)
    usable = len(data) - len(data) % 8  # a kill can cut an ack short; that record may be lost
    return [struct.unpack(">q", data[i : i + 8])[0] for i in range(0, usable, 8)]


def test_sigkilled_writers_leave_a_log_that_verifies(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    path = tmp_path / "audit.sqlite"
    rng = random.Random(1234)
    false_alarms, unanchored, committed = [], 0, 0
    for kill in range(KILLS):
        pid, read_fd = _fork_writer(path)
        if kill % 4 == 0:  # sometimes while the log is being created or opened
            time.sleep(rng.uniform(0, 0.01))
        else:
            os.read(read_fd, 8)  # ready
            time.sleep(rng.uniform(0, 0.02))
            if kill % 3 == 0:  # a verifier running beside a live writer sees no tampering either
                live = verify_audit(path, key=KEY)
                assert live.ok, live.reason
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        acked = [seq for seq in _acked(read_fd) if seq]
        if not path.exists():
            assert not acked
            continue
        result = verify_audit(path, key=KEY)
        if not result.ok:
            false_alarms.append((kill, result.first_bad_seq, result.reason))
            continue
        assert result.records >= max(acked, default=0)  # every committed record is there
        committed = result.records
        unanchored += result.unanchored > 0
    assert false_alarms == []
    assert committed > 0
    # The next writer re-anchors whatever a kill left behind the checkpoint.
    sink = SqliteAuditSink(SqliteSinkConfig(path=path, hmac_key_env=ENV))
    sink.append({"kind": "outcome", "call_id": "final", "sent": False, "time": utc_now()})
    sink.close()
    final = verify_audit(path, key=KEY)
    assert final.ok and final.complete and final.unanchored == 0 and final.records == committed + 1


def test_sigkilled_python_process_writer(tmp_path, monkeypatch):
    """The same with a fresh interpreter (`python -c`), as the bench runs it."""
    monkeypatch.setenv(ENV, KEY)
    path = tmp_path / "audit.sqlite"
    code = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from byom_sdk.trust import SqliteAuditSink, SqliteSinkConfig\n"
        f"sink = SqliteAuditSink(SqliteSinkConfig(path=Path(sys.argv[1]), hmac_key_env={ENV!r}))\n"
        "sink.open(); print('ready', flush=True)\n"
        "deadline = time.monotonic() + 10\n"
        "while time.monotonic() < deadline:\n"
        "    print(sink.append({'i': 1}).seq, flush=True)\n"
    )
    for delay in (0.005, 0.02):
        proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        acked = [int(line) for line in proc.stdout.read().split() if line.isdigit()]
        proc.stdout.close()
        result = verify_audit(path, key=KEY)
        assert result.ok and result.macs_checked, result.reason
        assert result.records >= max(acked, default=0)


def test_head_behind_the_log_is_a_warning_and_is_re_anchored(tmp_path, monkeypatch):
    """The crash window, made deterministic: commit done, checkpoint not written."""
    monkeypatch.setenv(ENV, KEY)
    path = tmp_path / "audit.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path, hmac_key_env=ENV))
    sink.append({"i": 1})
    monkeypatch.setattr(sink, "_advance_head", lambda last: None)
    sink.append({"i": 2})
    sink.append({"i": 3})
    result = verify_audit(path, key=KEY)
    assert result.ok and result.complete and result.unanchored == 2
    assert any("after the last checkpoint" in w for w in result.warnings)
    monkeypatch.undo()
    monkeypatch.setenv(ENV, KEY)
    sink.append({"i": 4})
    sink.close()
    assert verify_audit(path, key=KEY).unanchored == 0


def test_a_hot_journal_left_by_a_killed_writer_is_rolled_back_not_a_read_error(tmp_path, monkeypatch):
    """A writer killed inside a rollback-journal transaction (a log being created, before
    it is switched to WAL) leaves a hot journal that the next reader must roll back; a
    read-only connection may not ("attempt to write a readonly database"). verify and
    read recover the log as its next writer would, and see every committed record."""
    import sqlite3

    monkeypatch.setenv(ENV, KEY)
    path = tmp_path / "audit.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path, hmac_key_env=ENV))
    sink.open()
    for i in range(3):
        sink.append({"kind": "intent", "call_id": f"c{i}", "time": utc_now()})
        sink.append({"kind": "outcome", "call_id": f"c{i}", "sent": True, "outcome": "ok", "time": utc_now()})
    sink.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies inside its transaction
        try:
            writer = sqlite3.connect(path, isolation_level=None)
            writer.execute("PRAGMA cache_size=1")  # spill to the file: the journal is hot
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("CREATE TABLE junk(x)")
            writer.executemany("INSERT INTO junk VALUES (?)", [(os.urandom(512),) for _ in range(200)])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert Path(f"{path}-journal").stat().st_size > 0
    result = verify_audit(path, key=KEY)
    assert result.ok and result.records == 6, result.describe()
    assert len(list(read_audit(path))) == 6
