"""The merged audit of a batch job: RFC 6962 hashing (known answers, inclusion proofs),
and ``byom audit verify`` failing for every way the shard logs or the merge can be
tampered with."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3

import pytest

from byom_sdk import Client
from byom_sdk.cli import main
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import verify_audit
from byom_sdk.trust._audit_verify import (
    merkle_inclusion_proof,
    merkle_leaf_hash,
    merkle_root,
    verify_inclusion,
)

from ._helpers import AUDIT_KEY, write_jsonl


def test_rfc6962_known_answers():
    # transparency-dev/merkle test vectors, re-checked in the reference notes.
    assert merkle_root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle_leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert merkle_leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    leaves = [b"a", b"b", b"c"]
    left = hashlib.sha256(b"\x01" + merkle_leaf_hash(b"a") + merkle_leaf_hash(b"b")).digest()
    assert merkle_root(leaves) == hashlib.sha256(b"\x01" + left + merkle_leaf_hash(b"c")).digest()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17])
def test_inclusion_proofs_verify_and_reject_tampering(size):
    leaves = [f"shard-{i}".encode() for i in range(size)]
    root = merkle_root(leaves)
    for index, leaf in enumerate(leaves):
        proof = merkle_inclusion_proof(index, leaves)
        assert len(proof) <= max(1, size - 1).bit_length()
        assert verify_inclusion(leaf, index, size, proof, root)
        assert not verify_inclusion(leaf + b"!", index, size, proof, root)
        assert not verify_inclusion(leaf, index, size, proof, merkle_root([*leaves[:-1], b"x"]))
        if size > 1:
            assert not verify_inclusion(leaf, (index + 1) % size, size, proof, root)
        if proof:
            assert not verify_inclusion(leaf, index, size, proof[:-1], root)


@pytest.fixture
def merged(tmp_path):
    """A finished local job: the main log with its merge, and the shard logs."""
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"id": f"r{i}", "prompt": f"hello {i}"} for i in range(12)] + ["not json"]
    )
    with Client(models={"m": ScriptedModel()}, policy={"audit": {"path": str(tmp_path / "audit.sqlite")}}) as client:
        summary = client.batch(source, tmp_path / "out.jsonl", model="m", progress=False)
    shards = sorted((tmp_path / "byom-batch" / summary.job_id).glob("*.sqlite"))
    assert [p.name.split("-")[0] for p in shards] == ["driver", "local"]
    return tmp_path / "audit.sqlite", {p.name.split("-")[0]: p for p in shards}


def _verify(main_log):
    return verify_audit(main_log, key=AUDIT_KEY)


def test_the_merge_verifies(merged):
    main_log, _shards = merged
    result = _verify(main_log)
    assert result.ok and result.complete, result.describe()
    assert result.merged[0]["records"] == 24 + 1
    assert "1 batch merge(s) over 2 shard log(s)" in result.describe()


def _sql(path, statement, *args):
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(statement, args)
    conn.close()


def test_an_edited_shard_record_fails(merged):
    main_log, shards = merged
    _sql(shards["local"], """UPDATE records SET body = replace(body, '"v":2', '"v":3') WHERE seq = 3""")
    result = _verify(main_log)
    assert not result.ok and result.first_bad_seq == 1
    assert "does not verify" in result.reason


def test_a_deleted_shard_fails(merged):
    main_log, shards = merged
    shards["driver"].unlink()
    result = _verify(main_log)
    assert not result.ok and "missing" in result.reason


def test_a_shard_swapped_for_another_log_fails(merged, tmp_path):
    main_log, shards = merged
    other = tmp_path / "other"
    other.mkdir()
    with Client(models={"m": ScriptedModel()}, policy={"audit": {"path": str(other / "a.sqlite")}}) as client:
        client.model("m").generate("hi")
    for suffix in ("", ".head"):
        shutil.copy(other / f"a.sqlite{suffix}", f"{shards['local']}{suffix}")
    for suffix in ("-wal", "-shm"):
        (shards["local"].parent / f"{shards['local'].name}{suffix}").unlink(missing_ok=True)
    result = _verify(main_log)
    assert not result.ok and "another log" in result.reason


def test_a_shard_rewritten_consistently_with_the_key_fails_on_the_root(merged):
    """Someone with the key rebuilds a shard's chain after dropping a record: the chain and
    its head verify on their own, but not the merged head, nor the root."""
    main_log, shards = merged
    from byom_sdk.trust._audit import SqliteAuditSink, SqliteSinkConfig
    from byom_sdk.trust._audit_read import read_audit

    bodies = [e.record for e in read_audit(shards["local"], newest_first=False)]
    rebuilt = shards["local"].with_name("rebuilt.sqlite")
    with SqliteAuditSink(SqliteSinkConfig(path=rebuilt)) as sink:
        for body in bodies[:-2]:
            sink.append(body)
    for suffix in ("", ".head"):
        shutil.move(f"{rebuilt}{suffix}", f"{shards['local']}{suffix}")
    for suffix in ("-wal", "-shm"):
        (shards["local"].parent / f"{shards['local'].name}{suffix}").unlink(missing_ok=True)
    result = _verify(main_log)
    assert not result.ok
    assert "another log" in result.reason or "truncated" in result.reason


def test_records_added_to_a_shard_after_the_merge_are_a_warning(merged):
    main_log, shards = merged
    from byom_sdk.trust._audit import SqliteAuditSink, SqliteSinkConfig

    with SqliteAuditSink(SqliteSinkConfig(path=shards["local"])) as sink:
        sink.append({"note": "late"})
    result = _verify(main_log)
    assert result.ok
    assert any("gained 1 record(s) after its merge" in w for w in result.warnings)


def test_an_edited_merge_record_fails_the_main_chain(merged):
    main_log, _ = merged
    conn = sqlite3.connect(main_log)
    body = json.loads(conn.execute("SELECT body FROM records WHERE seq = 1").fetchone()[0])
    conn.close()
    body["tree_head"]["sha256_root_hash"] = "0" * 64
    _sql(main_log, "UPDATE records SET body = ? WHERE seq = 1", json.dumps(body, sort_keys=True, separators=(",", ":")))
    result = _verify(main_log)
    assert not result.ok and result.first_bad_seq == 1


def test_cli_verifies_the_merge(merged, capsys):
    main_log, shards = merged
    assert main(["audit", "verify", str(main_log), "--strict", "--key-env", "BYOM_AUDIT_KEY"]) == 0
    out = capsys.readouterr().out
    assert "batch merge" in out and ": ok" in out
    _sql(shards["local"], "DELETE FROM records WHERE seq = (SELECT max(seq) FROM records)")
    assert main(["audit", "verify", str(main_log), "--key-env", "BYOM_AUDIT_KEY"]) == 1
    assert main(["audit", "verify", str(main_log), "--key-env", "BYOM_AUDIT_KEY", "--no-shards"]) == 0
