"""The tamper matrix: every tamper kind x {verifier with the key, without it} -> verdict.

Verdicts:
- ``OK``: verifies and everything was checked (``--strict`` passes);
- ``UNCHECKED``: nothing wrong in what could be checked, but not everything could be (no
  key): ``ok`` is true, ``--strict`` exits 1;
- ``Tamper(seq)``: ``ok`` is false at ``first_bad_seq == seq`` (0: the header or the head
  file as a whole); exit 1 with or without ``--strict``;
- ``ERROR``: bad input (``AuditError``), exit 2.

The log under attack was written with a key and holds six records: three calls as
intent/outcome pairs (one refused before sending) and a plain record.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from byom_sdk import AuditError
from byom_sdk.trust import SqliteAuditSink, SqliteSinkConfig, verify_audit
from byom_sdk.trust._audit_format import NO_KEY, Checkpoint, LogMeta, head_path, record_hash, record_mac
from byom_sdk.trust._audit_keys import AuditKeyring
from byom_sdk.trust._cli import audit as audit_cli

KEY = b"matrix-audit-key-0123456789abcdef"
RECORDS = [
    {"kind": "intent", "call_id": "c1", "time": "2026-12-01T10:00:00.000+00:00"},
    {"kind": "outcome", "call_id": "c1", "sent": True, "outcome": "ok", "time": "2026-12-01T10:00:01.000+00:00"},
    {"kind": "outcome", "call_id": "c2", "sent": False, "outcome": "blocked", "time": "2026-12-01T10:00:02.000+00:00"},
    {"kind": "intent", "call_id": "c3", "time": "2026-12-01T10:00:03.000+00:00"},
    {"kind": "outcome", "call_id": "c3", "sent": True, "outcome": "ok", "time": "2026-12-01T10:00:04.000+00:00"},
    {"model": "m", "outcome": "ok", "time": "2026-12-01T10:00:05.000+00:00"},
]
SNAPSHOT_AT = 4  # records in the copy kept for the rollback attacks


@dataclass(frozen=True)
class Tamper:
    seq: int


OK, UNCHECKED, ERROR = "ok", "unchecked", "error"


@dataclass
class Log:
    path: Path
    old_db: Path  # the database after SNAPSHOT_AT records
    old_head: Path
    other_head: Path  # the head of another log written with the same key

    @contextlib.contextmanager
    def db(self):
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    @property
    def head(self) -> Path:
        return head_path(self.path)

    def checkpoint(self) -> Checkpoint:
        found = Checkpoint.parse(self.head.read_bytes())
        assert found is not None
        return found

    def write_head(self, checkpoint: Checkpoint) -> None:
        self.head.write_bytes(checkpoint.encode())

    def meta(self) -> LogMeta:
        with self.db() as conn:
            return LogMeta.parse(dict(conn.execute("SELECT key, value FROM meta")))

    def row(self, seq: int) -> tuple[str, str, str, str]:
        with self.db() as conn:
            prev, digest, kid, body = conn.execute(
                "SELECT prev_hash, hash, kid, body FROM records WHERE seq = ?", (seq,)
            ).fetchone()
        return prev, digest, kid, body


def _write(path: Path, records: list[dict]) -> None:
    sink = SqliteAuditSink(SqliteSinkConfig(path=path), keys=AuditKeyring.from_key(KEY))
    for record in records:
        sink.append(record)
    sink.close()  # the last connection folds the WAL into the file, so copies are whole


@pytest.fixture
def log(tmp_path) -> Log:
    path = tmp_path / "audit.sqlite"
    _write(path, RECORDS[:SNAPSHOT_AT])
    old_db, old_head = tmp_path / "old.sqlite", tmp_path / "old.head"
    shutil.copy(path, old_db)
    shutil.copy(head_path(path), old_head)
    _write(path, RECORDS[SNAPSHOT_AT:])
    other = tmp_path / "other.sqlite"
    _write(other, RECORDS[:2])
    return Log(path, old_db, old_head, head_path(other))


# -- tamper kinds ----------------------------------------------------------------------------


def intact(log: Log) -> None:
    pass


def edit_field(log: Log) -> None:
    with log.db() as conn:
        body = conn.execute("SELECT body FROM records WHERE seq = 3").fetchone()[0]
        conn.execute("UPDATE records SET body = ? WHERE seq = 3", (body.replace('"blocked"', '"ok"'),))


def edit_time(log: Log) -> None:
    with log.db() as conn:
        body = conn.execute("SELECT body FROM records WHERE seq = 2").fetchone()[0]
        conn.execute("UPDATE records SET body = ? WHERE seq = 2", (body.replace("10:00:01", "09:59:59"),))


def edit_and_rehash(log: Log) -> None:
    prev, _, kid, body = log.row(3)
    body = body.replace('"blocked"', '"ok"')
    with log.db() as conn:
        conn.execute("UPDATE records SET body = ?, hash = ? WHERE seq = 3", (body, record_hash(3, prev, kid, body)))


def _rechain(log: Log, start: int, *, kid: str | None = None, mac: str = "00" * 32) -> None:
    """Rewrite records ``start``.. as a consistent chain (no key: the MACs are made up)."""
    meta = log.meta()
    with log.db() as conn:
        prev = meta.genesis if start == 1 else conn.execute("SELECT hash FROM records WHERE seq = ?", (start - 1,))
        prev = prev if isinstance(prev, str) else prev.fetchone()[0]
        rows = conn.execute("SELECT seq, kid, body FROM records WHERE seq >= ? ORDER BY seq", (start,)).fetchall()
        for seq, old_kid, body in rows:
            new_kid = kid or old_kid
            digest = record_hash(seq, prev, new_kid, body)
            conn.execute(
                "UPDATE records SET prev_hash = ?, hash = ?, kid = ?, mac = ? WHERE seq = ?",
                (prev, digest, new_kid, mac, seq),
            )
            prev = digest
        size = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    head = log.checkpoint()
    log.write_head(Checkpoint(head.log_id, size, prev, kid or head.kid, head.time, mac))


def rewrite_tail_and_head(log: Log) -> None:
    edit_field(log)
    _rechain(log, 3)


def delete_row(log: Log) -> None:
    with log.db() as conn:
        conn.execute("DELETE FROM records WHERE seq = 4")


def delete_and_renumber(log: Log) -> None:
    with log.db() as conn:
        conn.execute("DELETE FROM records WHERE seq = 2")
        for seq in range(3, 7):
            conn.execute("UPDATE records SET seq = ? WHERE seq = ?", (seq - 1, seq))


def swap_rows(log: Log) -> None:
    with log.db() as conn:
        conn.execute("UPDATE records SET seq = -1 WHERE seq = 2")
        conn.execute("UPDATE records SET seq = 2 WHERE seq = 3")
        conn.execute("UPDATE records SET seq = 3 WHERE seq = -1")


def insert_row(log: Log) -> None:
    _, prev, kid, _ = log.row(3)
    body = json.dumps({"kind": "outcome", "call_id": "c9", "sent": False, "time": "t"}, separators=(",", ":"))
    with log.db() as conn:
        for seq in range(6, 3, -1):
            conn.execute("UPDATE records SET seq = ? WHERE seq = ?", (seq + 1, seq))
        conn.execute(
            "INSERT INTO records (seq, prev_hash, hash, kid, mac, body) VALUES (4, ?, ?, ?, ?, ?)",
            (prev, record_hash(4, prev, kid, body), kid, "11" * 32, body),
        )


def truncate(log: Log) -> None:
    with log.db() as conn:
        conn.execute("DELETE FROM records WHERE seq >= 5")


def truncate_and_copy_record_mac_into_head(log: Log) -> None:
    # The attack v1 fell for: the head's MAC was the record's MAC.
    truncate(log)
    _, digest, kid, _ = log.row(4)
    with log.db() as conn:
        mac = conn.execute("SELECT mac FROM records WHERE seq = 4").fetchone()[0]
    head = log.checkpoint()
    log.write_head(Checkpoint(head.log_id, 4, digest, kid, head.time, mac))


def rollback_database(log: Log) -> None:
    shutil.copy(log.old_db, log.path)


def rollback_head(log: Log) -> None:
    shutil.copy(log.old_head, log.head)


def rollback_database_and_head(log: Log) -> None:
    shutil.copy(log.old_db, log.path)
    shutil.copy(log.old_head, log.head)


def empty_head(log: Log) -> None:
    log.head.write_bytes(b"")


def head_not_a_checkpoint(log: Log) -> None:
    log.head.write_text("hello")


def head_from_another_log(log: Log) -> None:
    shutil.copy(log.other_head, log.head)


def edit_head_time(log: Log) -> None:
    head = log.checkpoint()
    log.write_head(
        Checkpoint(head.log_id, head.size, head.last_hash, head.kid, "2030-01-01T00:00:00.000+00:00", head.mac)
    )


def delete_head(log: Log) -> None:
    log.head.unlink()


def wipe_records(log: Log) -> None:
    with log.db() as conn:
        conn.execute("DELETE FROM records")


def wipe_records_and_delete_head(log: Log) -> None:
    wipe_records(log)
    delete_head(log)


def forge_mac(log: Log) -> None:
    with log.db() as conn:
        conn.execute("UPDATE records SET mac = ? WHERE seq = 3", ("ab" * 32,))


def append_forged_record(log: Log) -> None:
    _, prev, kid, _ = log.row(6)
    body = '{"outcome":"ok","time":"t"}'
    with log.db() as conn:
        conn.execute(
            "INSERT INTO records (seq, prev_hash, hash, kid, mac, body) VALUES (7, ?, ?, ?, ?, ?)",
            (prev, record_hash(7, prev, kid, body), kid, record_mac(b"a guessed key 0123", prev), body),
        )


def append_forged_record_and_head(log: Log) -> None:
    append_forged_record(log)
    _, digest, kid, _ = log.row(7)
    head = log.checkpoint()
    log.write_head(Checkpoint(head.log_id, 7, digest, kid, head.time, head.mac))


def strip_macs(log: Log) -> None:
    """Downgrade: rewrite the whole log as one written without a key."""
    with log.db() as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'kid'", (NO_KEY,))
    _rechain(log, 1, kid=NO_KEY, mac="")


def edit_header_log_id(log: Log) -> None:
    with log.db() as conn:
        conn.execute("UPDATE meta SET value = '00000000-0000-0000-0000-000000000000' WHERE key = 'log_id'")


def record_kid_to_none(log: Log) -> None:
    with log.db() as conn:
        conn.execute("UPDATE records SET kid = ?, mac = '' WHERE seq = 3", (NO_KEY,))


def add_trigger(log: Log) -> None:
    """A trigger that makes later appends vanish (the records so far are intact)."""
    with log.db() as conn:
        conn.execute("CREATE TRIGGER drop_new BEFORE INSERT ON records BEGIN SELECT RAISE(IGNORE); END")


# -- the matrix ------------------------------------------------------------------------------

Verdict = object
MATRIX: list[tuple[Callable[[Log], None], Verdict, Verdict]] = [
    # tamper kind,                             with the key,   without it
    (intact, OK, UNCHECKED),
    (edit_field, Tamper(3), Tamper(3)),
    (edit_time, Tamper(2), Tamper(2)),
    (edit_and_rehash, Tamper(3), Tamper(4)),
    (rewrite_tail_and_head, Tamper(3), UNCHECKED),
    (delete_row, Tamper(4), Tamper(4)),
    (delete_and_renumber, Tamper(2), Tamper(2)),
    (swap_rows, Tamper(2), Tamper(2)),
    (insert_row, Tamper(4), Tamper(5)),
    (truncate, Tamper(5), Tamper(5)),
    (truncate_and_copy_record_mac_into_head, Tamper(4), UNCHECKED),
    (rollback_database, Tamper(SNAPSHOT_AT + 1), Tamper(SNAPSHOT_AT + 1)),
    (empty_head, Tamper(0), Tamper(0)),
    (head_not_a_checkpoint, ERROR, ERROR),
    (head_from_another_log, Tamper(0), Tamper(0)),
    (edit_head_time, Tamper(6), UNCHECKED),
    (delete_head, Tamper(0), Tamper(0)),
    (wipe_records, Tamper(1), Tamper(1)),
    (wipe_records_and_delete_head, Tamper(0), Tamper(0)),
    (forge_mac, Tamper(3), UNCHECKED),
    (append_forged_record, Tamper(7), UNCHECKED),
    (append_forged_record_and_head, Tamper(7), UNCHECKED),
    (strip_macs, Tamper(0), UNCHECKED),
    (edit_header_log_id, Tamper(1), Tamper(1)),
    (record_kid_to_none, Tamper(3), Tamper(3)),
    (add_trigger, Tamper(0), Tamper(0)),
    # An older head alone loses nothing: the records after it are reported as unanchored.
    (rollback_head, OK, UNCHECKED),
    # Out of scope, asserted so the docs stay honest: restoring an old database *with* its
    # old head is a consistent, shorter log. Only a witness holding a later head sees it.
    (rollback_database_and_head, OK, UNCHECKED),
]

CASES = [
    pytest.param(tamper, with_key, expected, id=f"{tamper.__name__}-{'key' if with_key else 'nokey'}")
    for tamper, keyed, unkeyed in MATRIX
    for with_key, expected in ((True, keyed), (False, unkeyed))
]


def _cli_exit(log: Log, with_key: bool, strict: bool, key_file: Path) -> tuple[int, str]:
    args = ["verify", str(log.path), "--json"]
    args += ["--key-file", str(key_file)] if with_key else ["--key-env", ""]
    if strict:
        args.append("--strict")
    result = CliRunner().invoke(audit_cli, args)
    return result.exit_code, result.stdout


@pytest.mark.parametrize(("tamper", "with_key", "expected"), CASES)
def test_tamper_matrix(log, tmp_path, monkeypatch, tamper, with_key, expected):
    monkeypatch.delenv("BYOM_TEST_UNSET_KEY_VAR", raising=False)
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(KEY + b"\n")
    tamper(log)

    if expected == ERROR:
        with pytest.raises(AuditError) as err:
            verify_audit(log.path, key=KEY if with_key else None)
        assert err.value.path == str(log.head)
        for strict in (False, True):
            code, out = _cli_exit(log, with_key, strict, key_file)
            assert code == 2 and json.loads(out)["error"]["type"] == "AuditError"
        return

    result = verify_audit(log.path, key=KEY if with_key else None)
    lenient, lenient_out = _cli_exit(log, with_key, False, key_file)
    strict, _ = _cli_exit(log, with_key, True, key_file)
    assert json.loads(lenient_out)["ok"] is result.ok
    if isinstance(expected, Tamper):
        assert not result.ok and result.first_bad_seq == expected.seq, result.reason
        assert result.reason
        assert (lenient, strict) == (1, 1)
    elif expected == UNCHECKED:
        assert result.ok and not result.complete and result.unchecked, result.reason
        assert not result.checkpoint_mac_checked
        assert (lenient, strict) == (0, 1)
    else:
        assert expected == OK
        assert result.ok and result.complete and result.macs_checked and result.checkpoint_mac_checked
        assert result.records_mac_checked == result.records
        assert (lenient, strict) == (0, 0)


def test_matrix_covers_every_tamper_kind():
    tampers = {
        name
        for name, value in globals().items()
        if callable(value) and getattr(value, "__annotations__", None) == {"log": "Log", "return": "None"}
    }
    assert len(tampers) >= 25
    assert tampers == {tamper.__name__ for tamper, _, _ in MATRIX}


# -- a witness: the defence against rolling back both files ----------------------------------


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "nokey"])
def test_witness_catches_rollback_of_database_and_head(log, tmp_path, with_key):
    witness = tmp_path / "witnessed.head"
    shutil.copy(log.head, witness)  # shipped off the host after the sixth record
    key = KEY if with_key else None
    assert verify_audit(log.path, key=key, witness=witness).ok
    rollback_database_and_head(log)
    assert verify_audit(log.path, key=key).ok  # undetectable from the files alone
    result = verify_audit(log.path, key=key, witness=witness)
    assert not result.ok and result.first_bad_seq == SNAPSHOT_AT + 1 and "witnessed" in (result.reason or "")
    args = ["verify", str(log.path), "--witness", str(witness), "--key-env", ""]
    assert CliRunner().invoke(audit_cli, args).exit_code == 1


def test_witness_catches_a_head_rolled_back_alone(log, tmp_path):
    witness = tmp_path / "witnessed.head"
    shutil.copy(log.head, witness)
    rollback_head(log)
    result = verify_audit(log.path, key=KEY, witness=witness)
    assert not result.ok and result.first_bad_seq == SNAPSHOT_AT + 1 and "older than the witnessed" in result.reason


def test_witness_must_be_this_log_and_genuine(log, tmp_path):
    assert verify_audit(log.path, key=KEY, witness=log.other_head).first_bad_seq == 0
    head = log.checkpoint()
    forged = tmp_path / "forged.head"
    forged.write_bytes(Checkpoint(head.log_id, head.size, head.last_hash, head.kid, "later", head.mac).encode())
    with_key = verify_audit(log.path, key=KEY, witness=forged)
    assert not with_key.ok and "witnessed checkpoint's MAC" in with_key.reason
    without = verify_audit(log.path, witness=forged)
    assert without.ok and any("witnessed checkpoint's MAC" in item for item in without.unchecked)
    empty = tmp_path / "empty.head"
    empty.write_bytes(b"")
    with pytest.raises(AuditError, match="empty") as err:
        verify_audit(log.path, key=KEY, witness=empty)
    assert err.value.path == str(empty)
