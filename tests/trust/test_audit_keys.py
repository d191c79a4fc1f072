"""Audit keys: ids, the writer refused before any call is sent, rotation through a keyring,
and bad key material (one clear error naming the file, nothing appended)."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from pathlib import Path

import pytest

from byom_sdk import AuditError
from byom_sdk.trust import SqliteAuditSink, SqliteSinkConfig, read_audit, verify_audit
from byom_sdk.trust._audit_format import Checkpoint, head_path, key_id
from byom_sdk.trust._audit_keys import AuditKeyring, load_key_file, load_keyring

OLD = "old-audit-key-0123456789abcdef"
NEW = "new-audit-key-fedcba9876543210"
ENV = "BYOM_TEST_AUDIT_KEY"


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


def sink_for(path: Path, **config) -> SqliteAuditSink:
    return SqliteAuditSink(SqliteSinkConfig(path=path, hmac_key_env=ENV, **config))


def write(path: Path, n: int, **config) -> None:
    sink = sink_for(path, **config)
    for i in range(n):
        sink.append({"i": i, "time": f"t{i}"})
    sink.close()


def count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    finally:
        conn.close()


def keyring_file(tmp_path: Path, active: str, name: str = "ring.json", **keys: str) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"active": active, "keys": keys}))
    return path


# -- key ids ---------------------------------------------------------------------------------


def test_key_id_is_a_mac_not_a_hash_of_the_secret():
    key = OLD.encode()
    kid = key_id(key)
    assert kid == hmac.new(key, b"byom-audit/v2/key-id", hashlib.sha256).hexdigest()[:16]
    assert kid not in hashlib.sha256(key).hexdigest()
    assert kid not in hashlib.sha256(b"byom-key-id" + key).hexdigest()
    assert key_id(NEW.encode()) != kid and len(kid) == 16


def test_log_records_the_key_id_it_was_created_with(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 2)
    conn = sqlite3.connect(path)
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    kids = {row[0] for row in conn.execute("SELECT kid FROM records")}
    conn.close()
    assert meta["kid"] == key_id(OLD.encode()) and kids == {meta["kid"]}
    head = Checkpoint.parse(head_path(path).read_bytes())
    assert head is not None and head.kid == meta["kid"]
    assert OLD not in path.read_bytes().decode("latin-1") and OLD not in head_path(path).read_text()


def test_keyring_repr_hides_the_keys():
    ring = AuditKeyring.from_key(OLD)
    assert OLD not in repr(ring) and key_id(OLD.encode()) in repr(ring)


# -- writers refused when the sink opens -----------------------------------------------------


def _refused(path: Path, sink: SqliteAuditSink, *needles: str) -> AuditError:
    before = (count(path), head_path(path).read_bytes())
    with pytest.raises(AuditError) as err:
        sink.open()
    with pytest.raises(AuditError):  # fail closed: appending after a refused open is refused too
        sink.append({"i": "late"})
    assert (count(path), head_path(path).read_bytes()) == before  # nothing appended
    assert err.value.path == str(path)
    for needle in (str(path), *needles):
        assert needle in str(err.value)
    return err.value


def test_writer_without_the_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 2)
    monkeypatch.delenv(ENV)
    _refused(path, sink_for(path), ENV, key_id(OLD.encode()))


def test_writer_with_another_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 2)
    monkeypatch.setenv(ENV, NEW)
    error = _refused(path, sink_for(path), ENV, key_id(OLD.encode()), key_id(NEW.encode()))
    assert "wrong key" in str(error)


def test_unkeyed_log_refuses_a_keyed_writer(tmp_path, monkeypatch):
    path = tmp_path / "a.sqlite"
    write(path, 2)
    monkeypatch.setenv(ENV, OLD)
    error = _refused(path, sink_for(path), "without an audit key", ENV)
    assert "new log" in str(error) and "aside" in str(error)


def test_writer_with_a_keyring_lacking_the_log_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 2)
    ring = keyring_file(tmp_path, "new", new=NEW)
    _refused(path, sink_for(path, keyring=ring), str(ring), "wrong key")


def test_writer_refuses_a_log_whose_head_was_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 2)
    head_path(path).unlink()
    with pytest.raises(AuditError, match="lost its head file"):
        sink_for(path).open()
    assert not head_path(path).exists() and count(path) == 2  # the evidence stays as found


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda head: head.write_text("not a checkpoint"), "is not a checkpoint"),
        (lambda head: head.write_bytes(b""), "is empty"),
    ],
    ids=["garbage", "empty"],
)
def test_writer_refuses_a_damaged_head(tmp_path, monkeypatch, damage, message):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 2)
    damage(head_path(path))
    with pytest.raises(AuditError, match=message) as err:
        sink_for(path).open()
    assert str(head_path(path)) in str(err.value) and count(path) == 2


def test_writer_refuses_a_truncated_log(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 4)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM records WHERE seq > 2")
    conn.close()
    with pytest.raises(AuditError, match="truncated, rolled back"):
        sink_for(path).open()
    assert count(path) == 2


def test_writer_refuses_a_wiped_log_recreated_from_scratch(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 3)
    path.unlink()  # the database is gone, its head says 3
    with pytest.raises(AuditError, match="deleted or replaced"):
        sink_for(path).open()
    assert Checkpoint.parse(head_path(path).read_bytes()).size == 3


# -- rotation --------------------------------------------------------------------------------


def test_rotation_through_a_keyring(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 3)
    old_id, new_id = key_id(OLD.encode()), key_id(NEW.encode())
    ring = keyring_file(tmp_path, "2027", **{"2026": OLD, "2027": NEW})
    write(path, 2, keyring=ring)

    entries = list(read_audit(path, newest_first=False))
    assert [e.kid for e in entries] == [old_id] * 4 + [new_id] * 2
    rotation = entries[3].record
    assert rotation["kind"] == "rotation" and (rotation["from_kid"], rotation["to_kid"]) == (old_id, new_id)
    head = Checkpoint.parse(head_path(path).read_bytes())
    assert head.kid == new_id and head.mac_ok(NEW.encode())

    result = verify_audit(path, keyring=ring)
    assert result.ok and result.complete and result.records == 6 and result.key_ids == [old_id, new_id]
    with pytest.raises(AuditError, match=new_id):
        verify_audit(path, key=OLD)
    with pytest.raises(AuditError, match=old_id):
        verify_audit(path, key=NEW)
    unkeyed = verify_audit(path)
    assert unkeyed.ok and not unkeyed.complete

    # After the rotation the new key alone may write; the old one alone is refused.
    monkeypatch.setenv(ENV, NEW)
    write(path, 1)
    monkeypatch.setenv(ENV, OLD)
    with pytest.raises(AuditError, match="wrong key"):
        sink_for(path).open()
    assert verify_audit(path, keyring=ring).records == 7


def test_rotation_in_toml_keyring_and_back(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 1)
    forward = tmp_path / "ring.toml"
    forward.write_text(f'active = "new"\n[keys]\nold = "{OLD}"\nnew = "{NEW}"\n')
    write(path, 1, keyring=forward)
    back = tmp_path / "back.toml"
    back.write_text(f'active = "old"\n[keys]\nold = "{OLD}"\nnew = "{NEW}"\n')
    write(path, 1, keyring=back)
    result = verify_audit(path, keyring=forward)
    old_id, new_id = key_id(OLD.encode()), key_id(NEW.encode())
    assert result.ok and result.complete and result.key_ids == [old_id, new_id, old_id] and result.records == 5


def test_forged_rotation_is_detected(tmp_path, monkeypatch):
    # Someone without the old key cannot move the log to their own key.
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 2)
    ring = keyring_file(tmp_path, "mine", mine=NEW, old="a-guessed-old-key-000000")
    with pytest.raises(AuditError, match="wrong key"):
        sink_for(path, keyring=ring).open()


def test_key_file_config(tmp_path):
    key_file = tmp_path / "audit.key"
    key_file.write_text(OLD + "\n")
    path = tmp_path / "a.sqlite"
    write(path, 2, key_file=key_file)
    assert verify_audit(path, key_file=key_file).complete
    assert verify_audit(path, key=OLD).complete


def test_from_config_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    ring = keyring_file(tmp_path, "n", n=NEW)
    keys = AuditKeyring.from_config(SqliteSinkConfig(hmac_key_env=ENV, keyring=ring))
    assert keys.active == (key_id(NEW.encode()), NEW.encode())
    assert AuditKeyring.from_config(SqliteSinkConfig(hmac_key_env=ENV)).active_kid == key_id(OLD.encode())
    assert AuditKeyring.from_config(SqliteSinkConfig(hmac_key_env=None)).active is None


# -- bad key material ------------------------------------------------------------------------


def _bad_key_file(tmp_path: Path, content: bytes | None) -> Path:
    path = tmp_path / "audit.key"
    if content is None:
        path.mkdir()  # unreadable as a file
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"short\n", "at least 16"),
        (b"first-line-0123456789\nsecond-line-0123456789\n", "more than one line"),
        (b'{"active": "a", "keys": {"a": "0123456789abcdef0"}}', "keyring"),
        (b"\xff\xfe not utf-8 at all 0123456789", "not UTF-8"),
        (None, "cannot be read"),
    ],
    ids=["empty", "short", "two-lines", "a-keyring", "not-utf8", "unreadable"],
)
def test_bad_key_file(tmp_path, content, message):
    key_file = _bad_key_file(tmp_path, content)
    with pytest.raises(AuditError, match=message) as err:
        load_key_file(key_file)
    assert err.value.path == str(key_file) and str(key_file) in str(err.value)
    path = tmp_path / "a.sqlite"
    with pytest.raises(AuditError, match=message):
        sink_for(path, key_file=key_file).open()
    assert not path.exists()  # the keys are checked before the store is touched


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("ring.json", "{not json", "not valid JSON"),
        ("ring.toml", "active = ", "not valid TOML"),
        ("ring.json", json.dumps({"keys": {"a": OLD}}), '"active" must name'),
        ("ring.json", json.dumps({"active": "b", "keys": {"a": OLD}}), '"active" must name'),
        ("ring.json", json.dumps({"active": "a", "keys": {}}), "non-empty"),
        ("ring.json", json.dumps({"active": "a", "keys": {"a": OLD}, "extra": 1}), "unknown field"),
        ("ring.json", json.dumps({"active": "a", "keys": {"a": 12345}}), "not a string"),
        ("ring.json", json.dumps({"active": "a", "keys": {"a": "short"}}), "at least 16"),
        ("ring.json", json.dumps({"active": "a", "keys": {"a": OLD, "b": OLD}}), "same secret"),
        ("ring.json", json.dumps([OLD]), "expected a table"),
    ],
    ids=[
        "bad-json",
        "bad-toml",
        "no-active",
        "unknown-active",
        "no-keys",
        "extra-field",
        "number",
        "short",
        "dup",
        "list",
    ],
)
def test_bad_keyring(tmp_path, name, text, message):
    ring = tmp_path / name
    ring.write_text(text)
    with pytest.raises(AuditError, match=message) as err:
        load_keyring(ring)
    assert err.value.path == str(ring) and str(ring) in str(err.value)


def test_keyring_without_the_log_key_id_at_verify(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, OLD)
    path = tmp_path / "a.sqlite"
    write(path, 2)
    ring = keyring_file(tmp_path, "n", n=NEW)
    with pytest.raises(AuditError, match=key_id(OLD.encode())) as err:
        verify_audit(path, keyring=ring)
    assert err.value.path == str(ring) and str(ring) in str(err.value)
    assert count(path) == 2


def test_key_file_and_keyring_together_are_refused(tmp_path):
    ring = keyring_file(tmp_path, "n", n=NEW)
    key_file = tmp_path / "k"
    key_file.write_text(OLD)
    with pytest.raises(AuditError, match="use one"):
        AuditKeyring.from_settings(key_file=key_file, keyring=ring)


def test_short_key_in_the_environment_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, "short")
    with pytest.raises(AuditError, match=f"environment variable {ENV} is 5 bytes"):
        sink_for(tmp_path / "a.sqlite").open()


def test_a_log_rewritten_under_another_key_is_not_passed_off_as_a_wrong_key(tmp_path):
    """An attacker with write access but not the key can rebuild the whole log under a key
    of their own (independent probe): verifying with the real key cannot tell that from a
    wrong key, so the error says both and never verifies."""
    path = tmp_path / "audit.sqlite"
    with SqliteAuditSink(
        SqliteSinkConfig(path=str(path)), keys=AuditKeyring.from_key(b"attacker-key-0123456789abcdef")
    ) as s:
        s.append({"kind": "note", "time": "t"})
    with pytest.raises(
        AuditError, match=r"no key with id [0-9a-f]{16}.*treat the log as rewritten under someone else's key"
    ):
        verify_audit(path, key=b"the-real-audit-key-0123456789abc")
