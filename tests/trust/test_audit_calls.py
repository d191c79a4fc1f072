"""Intent and outcome records: every sent call has exactly one earlier intent and one
outcome; intents without an outcome are reported (crashed or in flight), not failed."""

from __future__ import annotations

import pytest

from byom_sdk.trust import MemoryAuditSink, SqliteAuditSink, SqliteSinkConfig, verify_audit
from byom_sdk.trust._audit_keys import AuditKeyring

KEY = b"calls-audit-key-0123456789"


def intent(call_id):
    return {"kind": "intent", "call_id": call_id, "time": "t"}


def outcome(call_id, sent=True):
    return {"kind": "outcome", "call_id": call_id, "sent": sent, "outcome": "ok" if sent else "blocked", "time": "t"}


def verify(records):
    sink = MemoryAuditSink(key=KEY)
    for record in records:
        sink.append(record)
    return sink.verify()


def test_paired_calls_and_plain_records_verify():
    result = verify(
        [
            intent("a"),
            intent("b"),  # calls interleave
            {"model": "m", "outcome": "ok"},  # a record without "kind" is just a record
            outcome("b"),
            outcome("a"),
            outcome("refused", sent=False),  # refused before sending: no intent
            intent("c"),
            outcome("c", sent=False),  # an intent whose request never left
        ]
    )
    assert result.ok and result.complete and not result.warnings and not result.open_calls


@pytest.mark.parametrize(
    ("records", "bad_seq", "message"),
    [
        ([outcome("a")], 1, "no earlier intent"),
        ([outcome("a", sent=False), intent("b"), {"kind": "outcome", "call_id": "b"}, outcome("x")], 4, "no earlier"),
        ([intent("a"), outcome("a"), outcome("a")], 3, "second outcome"),
        ([outcome("a", sent=False), outcome("a", sent=False)], 2, "second outcome"),
        ([intent("a"), intent("a")], 2, "second intent"),
        ([intent("a"), outcome("a"), intent("a")], 3, "second intent"),
        ([outcome("b", sent=False), {"kind": "intent"}], 2, "without a call_id"),
        ([{"kind": "outcome", "call_id": ""}], 1, "without a call_id"),
    ],
    ids=[
        "sent-without-intent",
        "sent-missing-means-sent",
        "two-outcomes",
        "two-refusals",
        "two-intents",
        "intent-after-outcome",
        "intent-without-call-id",
        "outcome-with-empty-call-id",
    ],
)
def test_pairing_violations(records, bad_seq, message):
    result = verify(records)
    assert not result.ok and result.first_bad_seq == bad_seq and message in (result.reason or "")


def test_intents_without_outcome_are_a_warning_listing_them():
    result = verify([intent(f"c{i}") for i in range(12)] + [outcome("c3")])
    assert result.ok and result.complete
    assert len(result.open_calls) == 11 and "c3" not in result.open_calls
    [warning] = result.warnings
    assert warning.startswith("11 call(s) without outcome: crashed or in flight") and "c0" in warning
    assert "and 1 more" in warning


def test_pairing_is_checked_in_the_sqlite_log(tmp_path):
    path = tmp_path / "a.sqlite"
    sink = SqliteAuditSink(SqliteSinkConfig(path=path), keys=AuditKeyring.from_key(KEY))
    sink.open()
    sink.append(intent("x"))
    sink.append(intent("y"))
    sink.append(outcome("x"))
    sink.close()
    result = verify_audit(path, key=KEY)
    assert result.ok and result.open_calls == ["y"]
    sink.append(outcome("x"))
    sink.close()
    second = verify_audit(path, key=KEY)
    assert not second.ok and second.first_bad_seq == 4 and "second outcome" in (second.reason or "")


def test_a_trust_off_outcome_needs_no_intent_and_a_trust_on_one_does():
    """trust='off' writes one record per call, after it; its "trust" field, under the MAC
    like every field, is what exempts it (a log of a trust='off' Client verified as broken)."""
    off = {**outcome("a"), "trust": "off"}
    assert verify([off, {**outcome("b"), "trust": "off"}]).ok
    result = verify([{**outcome("c"), "trust": "on"}])
    assert not result.ok and "no earlier intent" in result.reason


def test_a_trust_off_clients_sqlite_log_verifies(tmp_path):
    import byom_sdk
    from byom_sdk.testing import ScriptedModel

    path = tmp_path / "audit.sqlite"
    policy = {"audit": {"path": str(path)}}
    with byom_sdk.Client(models={"m": ScriptedModel(["fine"])}, trust="off", policy=policy) as client:
        model = client.model("m")
        model.generate("hi")
        list(model.stream("hi"))
    result = verify_audit(path)
    assert result.ok and result.records == 2, result.reason
