"""Attacks beyond the tamper matrix, from an attacker with write access to the log's files
and an auditor's side: a schema rebuilt to delete records as they are written, edited tail
rows, records too deep to read back, a checkpoint or keyring holding a field twice, a key
file with a byte order mark, and a verify that skipped shard logs passing as complete."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from byom_sdk import AuditError
from byom_sdk.trust import SqliteAuditSink, SqliteSinkConfig, verify_audit
from byom_sdk.trust._audit_format import MAX_DEPTH, Checkpoint, head_path, record_hash
from byom_sdk.trust._audit_keys import AuditKeyring, load_key_file, load_keyring
from byom_sdk.trust._cli import audit

KEY = "attack-audit-key-0123456789abcdef"

# A generated column that is the same for every record after the first six, UNIQUE ON
# CONFLICT REPLACE: each insert silently deletes the record before it, and still counts
# one row, so neither the authorizer nor the row count sees it.
_REPLACING = """
BEGIN;
CREATE TABLE r2 (seq INTEGER PRIMARY KEY, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, kid TEXT NOT NULL,
  mac TEXT NOT NULL, body TEXT NOT NULL,
  g TEXT GENERATED ALWAYS AS (CASE WHEN seq > 6 THEN 'new' ELSE seq END) VIRTUAL UNIQUE ON CONFLICT REPLACE);
INSERT INTO r2 (seq, prev_hash, hash, kid, mac, body) SELECT * FROM records;
DROP TABLE records;
ALTER TABLE r2 RENAME TO records;
COMMIT;
"""


def _sink(path: Path, key: str | None = KEY) -> SqliteAuditSink:
    keys = AuditKeyring.from_key(key) if key else AuditKeyring()
    return SqliteAuditSink(SqliteSinkConfig(path=path, hmac_key_env=None), keys=keys)


def _log(tmp_path: Path, n: int = 6, key: str | None = KEY) -> Path:
    path = tmp_path / "audit.sqlite"
    with _sink(path, key) as sink:
        for i in range(n):
            sink.append({"kind": "outcome", "call_id": f"c{i}", "sent": False})
    return path


def _seqs(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [int(row[0]) for row in conn.execute("SELECT seq FROM records ORDER BY seq")]


def test_a_table_rebuilt_to_delete_on_insert_fails_verify_and_is_not_opened(tmp_path):
    path = _log(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.executescript(_REPLACING)
    result = verify_audit(path, key=KEY)
    assert not result.ok and result.first_bad_seq == 0
    assert "no byom writer creates" in (result.reason or "")
    with pytest.raises(AuditError, match="no byom writer creates"):
        _sink(path).open()
    assert _seqs(path) == [1, 2, 3, 4, 5, 6]


def test_a_table_rebuilt_while_writing_stops_the_writer_and_deletes_nothing(tmp_path):
    path = _log(tmp_path)
    sink = _sink(path)
    sink.append({"n": 7})
    with sqlite3.connect(path) as conn:
        conn.executescript(_REPLACING)
    for n in (8, 9):  # refused every time, not only once
        with pytest.raises(AuditError, match="no byom writer creates"):
            sink.append({"n": n})
    sink.close()
    assert _seqs(path) == [1, 2, 3, 4, 5, 6, 7]  # the insert's REPLACE was rolled back


def test_an_extra_index_or_table_is_reported(tmp_path):
    path = _log(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (x)")
    result = verify_audit(path, key=KEY)
    assert not result.ok and "table 'notes'" in (result.reason or "")


def test_sqlite_statistics_are_not_tampering(tmp_path):
    path = _log(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("ANALYZE")
    assert verify_audit(path, key=KEY).strict_ok
    with _sink(path) as sink:
        sink.append({"n": 7})
    assert verify_audit(path, key=KEY).strict_ok


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE records SET hash = 'zz' WHERE seq = (SELECT max(seq) FROM records)",
        "UPDATE records SET seq = 9223372036854775807 WHERE seq = (SELECT max(seq) FROM records)",
    ],
    ids=["hash-not-hex", "seq-at-int64-max"],
)
def test_an_edited_tail_row_fails_the_append_with_audit_error(tmp_path, edit):
    path = _log(tmp_path)
    sink = _sink(path)
    sink.append({"n": 7})
    with sqlite3.connect(path) as conn:
        conn.execute(edit)
    with pytest.raises(AuditError, match="could not be written"):
        sink.append({"n": 8})
    sink.close()


def test_a_record_that_is_no_utf8_is_an_audit_error(tmp_path):
    with _sink(tmp_path / "a.sqlite") as sink, pytest.raises(AuditError):
        sink.append({"text": "\ud800"})


def _nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("levels", [MAX_DEPTH, MAX_DEPTH + 1, 990, 5000])
def test_a_record_nested_too_deep_to_read_back_is_refused(tmp_path, levels):
    # Depth 990 used to be written (by the stdlib encoder) and then made every verify of
    # the log die with RecursionError.
    path = tmp_path / "a.sqlite"
    with _sink(path) as sink:
        record = {"kind": "outcome", "call_id": "c", "sent": False, "x": _nested(levels - 1)}
        if levels <= MAX_DEPTH:
            sink.append(record)
        else:
            with pytest.raises(AuditError, match=f"deeper than {MAX_DEPTH}"):
                sink.append(record)
    assert verify_audit(path, key=KEY).strict_ok


def test_a_forged_body_too_deep_to_parse_is_tampering_not_a_crash(tmp_path):
    path = _log(tmp_path, n=1, key=None)
    body = '{"kind":"outcome","x":' + "[" * 5000 + "]" * 5000 + "}"
    with sqlite3.connect(path) as conn:
        prev = conn.execute("SELECT hash FROM records WHERE seq = 1").fetchone()[0]
        conn.execute(
            "INSERT INTO records (seq, prev_hash, hash, kid, mac, body) VALUES (2, ?, ?, 'none', '', ?)",
            (prev, record_hash(2, prev, "none", body), body),
        )
    result = verify_audit(path)
    assert not result.ok and result.first_bad_seq == 2


def test_a_checkpoint_holding_a_field_twice_is_not_a_checkpoint(tmp_path):
    path = _log(tmp_path)
    head = head_path(path)
    text = head.read_bytes().rstrip()
    head.write_bytes((b'{"size":999,' + text[1:]).ljust(511) + b"\n")
    with pytest.raises(AuditError, match="holds 'size' twice"):
        verify_audit(path, key=KEY)
    with pytest.raises(ValueError, match="twice"):
        Checkpoint.parse(b'{"size":1,"size":2}')


def test_a_key_file_with_a_byte_order_mark_is_the_same_key(tmp_path):
    plain, marked = tmp_path / "plain.key", tmp_path / "marked.key"
    plain.write_text(KEY + "\n")
    marked.write_bytes(b"\xef\xbb\xbf" + KEY.encode() + b"\r\n")
    assert load_key_file(marked).kids == load_key_file(plain).kids == AuditKeyring.from_key(KEY).kids


@pytest.mark.parametrize("suffix", [".json", ".toml", ".ring"])
def test_a_keyring_with_a_byte_order_mark_loads(tmp_path, suffix):
    ring = tmp_path / f"ring{suffix}"
    text = (
        json.dumps({"active": "a", "keys": {"a": KEY}}) if suffix != ".toml" else f'active = "a"\n[keys]\na = "{KEY}"\n'
    )
    ring.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_keyring(ring).kids == AuditKeyring.from_key(KEY).kids


def test_a_json_keyring_naming_a_label_twice_is_refused(tmp_path):
    ring = tmp_path / "ring.json"
    ring.write_text(f'{{"active": "a", "keys": {{"a": "{"x" * 20}", "a": "{KEY}"}}}}')
    with pytest.raises(AuditError, match="names 'a' twice"):
        load_keyring(ring)


def test_skipping_the_shard_logs_is_not_a_complete_verify(tmp_path, monkeypatch):
    path = _log(tmp_path, n=1)
    merge = {
        "kind": "batch_merge",
        "job_id": "j",
        "tree_head": {"sha256_root_hash": "00" * 32, "tree_size": 1},
        "shards": [{"shard_id": "s0", "path": "gone.sqlite", "log_id": "x", "size": 1, "last_hash": "00" * 32}],
    }
    with _sink(path) as sink:
        sink.append(merge)
    assert not verify_audit(path, key=KEY).ok  # the shard log is missing
    skipped = verify_audit(path, key=KEY, check_shards=False)
    assert skipped.ok and not skipped.complete
    assert any("batch merge" in item for item in skipped.unchecked)
    key_file = tmp_path / "k.key"
    key_file.write_text(KEY)
    monkeypatch.delenv("BYOM_AUDIT_KEY", raising=False)
    args = ["verify", str(path), "--key-file", str(key_file), "--no-shards"]
    assert CliRunner().invoke(audit, args).exit_code == 0
    assert CliRunner().invoke(audit, [*args, "--strict"]).exit_code == 1
