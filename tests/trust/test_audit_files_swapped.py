"""Attacks on a log while a writer has it open, found by an independent probe: the head
file renamed over, the database replaced, a trigger added. Each makes the next call fail
closed — nothing is sent — instead of writing where ``verify`` and a witness never look."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

import byom_sdk
from byom_sdk import AuditError
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import SqliteAuditSink, SqliteSinkConfig, verify_audit

KEY = "swap-audit-key-0123456789abcdef0123"


@pytest.fixture
def running(tmp_path, monkeypatch):
    """A client with a SQLite audit that has made two calls (four records)."""
    monkeypatch.setenv("BYOM_AUDIT_KEY", KEY)
    path = tmp_path / "audit.sqlite"
    model = ScriptedModel()
    client = byom_sdk.Client(models={"m": model}, policy={"audit": {"path": str(path)}})
    for _ in range(2):
        client.model("m").generate("hi")
    yield client, model, path
    client.close()


def _refused(client, model, match: str) -> None:
    sent = len(model.requests)
    with pytest.raises(AuditError, match=match):
        client.model("m").generate("hi")
    assert len(model.requests) == sent  # fail closed: the prompt never left


def test_a_head_file_renamed_over_stops_the_writer(running, tmp_path):
    client, model, path = running
    frozen = tmp_path / "frozen.head"
    shutil.copy(f"{path}.head", frozen)
    os.replace(frozen, f"{path}.head")  # the path now names a copy the writer does not hold
    _refused(client, model, r"head file .* was replaced or removed while the log was open")


def test_a_deleted_head_file_stops_the_writer(running):
    client, model, path = running
    os.unlink(f"{path}.head")
    _refused(client, model, r"head file .* was replaced or removed .*it is gone")


def test_a_replaced_database_stops_the_writer(running, tmp_path):
    client, model, path = running
    copy = tmp_path / "copy.sqlite"
    shutil.copy(path, copy)
    os.replace(copy, path)
    _refused(client, model, r"its database .* was replaced or removed while the log was open")


@pytest.mark.parametrize(
    "trigger",
    [
        "CREATE TRIGGER drop_new BEFORE INSERT ON records BEGIN SELECT RAISE(IGNORE); END",
        "CREATE TRIGGER erase AFTER INSERT ON records BEGIN DELETE FROM records WHERE seq = NEW.seq; END",
    ],
    ids=["before-insert-ignore", "after-insert-delete"],
)
def test_a_trigger_added_while_writing_stops_the_writer_and_fails_verify(running, trigger):
    client, model, path = running
    with sqlite3.connect(path) as db:
        db.execute(trigger)
    _refused(client, model, r"the record could not be written: not authorized")
    result = verify_audit(path, key=KEY)
    assert not result.ok and result.first_bad_seq == 0
    assert "trigger" in result.reason and "no byom writer creates" in result.reason


def test_a_log_holding_a_trigger_or_view_is_not_opened(tmp_path):
    path = tmp_path / "audit.sqlite"
    with SqliteAuditSink(SqliteSinkConfig(path=str(path))) as sink:
        sink.append({"kind": "note", "time": "t"})
    with sqlite3.connect(path) as db:
        db.execute("CREATE VIEW shown AS SELECT seq FROM records")
    with pytest.raises(AuditError, match=r"holds view 'shown', which no byom writer creates"):
        SqliteAuditSink(SqliteSinkConfig(path=str(path))).open()
