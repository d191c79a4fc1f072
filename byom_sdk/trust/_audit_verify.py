"""Verifying a v2 chain: the hashes, the MACs, the head checkpoint, and the intent/outcome
pairing of calls (shared by every sink; reading SQLite files is in ``_audit_read``).

``verify`` never trusts what a log says about itself when it has a key: the key id of every
record follows from the log header and the rotation records, and a record or checkpoint
under any other id is a failure. Without a key it checks everything a key is not needed for
and lists the rest in ``VerifyResult.unchecked``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Union

from .._errors import AuditError
from ._audit_format import FORMAT, NO_KEY, ROTATION, AuditEntry, Checkpoint, LogMeta, is_key_id, record_hash, record_mac
from ._audit_keys import AuditKeyring

__all__ = [
    "MERGE",
    "HeadState",
    "VerifyResult",
    "merkle_inclusion_proof",
    "merkle_leaf_hash",
    "merkle_node_hash",
    "merkle_root",
    "shard_leaf",
    "verify_entries",
    "verify_inclusion",
]

#: The head as found: a checkpoint, ``"missing"``, ``"empty"``, or ``None`` (not compared).
HeadState = Union[Checkpoint, Literal["missing", "empty"], None]

_SHOWN_OPEN_CALLS = 10


@dataclass
class VerifyResult:
    """The outcome of :func:`verify_audit`.

    :param ok: nothing wrong was found in what could be checked.
    :param records: records read.
    :param first_bad_seq: the first sequence number at fault (0: the log header or the
        head file as a whole); ``None`` when ok.
    :param reason: what is wrong there.
    :param macs_checked: every record's MAC was verified.
    :param head_checked: the head checkpoint was compared with the log.
    :param format: ``byom-audit/v2`` or ``byom-audit/v1``.
    :param log_id: the log's id (v2).
    :param key_ids: the key ids the log's records are under, oldest first.
    :param records_mac_checked: records whose MAC was verified.
    :param checkpoint_mac_checked: the head checkpoint's MAC was verified.
    :param unchecked: what could not be checked (no key, no head); ``--strict`` fails
        unless it is empty.
    :param unanchored: records after the head checkpoint (a writer stopped between its
        commit and the checkpoint write; the next append re-anchors them).
    :param open_calls: call ids with an intent record and no outcome.
    """

    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str | None = None
    macs_checked: bool = False
    head_checked: bool = False
    warnings: list[str] = field(default_factory=list)
    format: str = FORMAT
    log_id: str | None = None
    key_ids: list[str] = field(default_factory=list)
    records_mac_checked: int = 0
    checkpoint_mac_checked: bool = False
    unchecked: list[str] = field(default_factory=list)
    unanchored: int = 0
    open_calls: list[str] = field(default_factory=list)
    #: batch merges verified: one entry per ``batch_merge`` record (job, shards, root).
    merged: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Everything was checked (a key for every MAC, a head to compare)."""
        return not self.unchecked

    @property
    def strict_ok(self) -> bool:
        """``ok`` and ``complete``: what ``byom audit verify --strict`` requires."""
        return self.ok and self.complete

    def describe(self) -> str:
        if not self.ok:
            where = "the log header or head file" if self.first_bad_seq == 0 else f"seq {self.first_bad_seq}"
            return f"FAILED at {where}: {self.reason}"
        checks = ["hash chain"]
        if self.records_mac_checked or self.macs_checked:
            checks.append(f"{self.records_mac_checked} MAC(s)")
        if self.head_checked:
            checks.append("checkpoint" + (" MAC" if self.checkpoint_mac_checked else ""))
        if self.merged:
            shards = sum(len(m.get("shards", ())) for m in self.merged)
            records = sum(int(m.get("records", 0)) for m in self.merged)
            checks.append(f"{len(self.merged)} batch merge(s) over {shards} shard log(s), {records} record(s)")
        text = f"ok: {self.records} record(s) verified ({', '.join(checks)})"
        if self.unchecked:
            text += "; NOT checked: " + "; ".join(self.unchecked)
        return text

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}


class Failed(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


def _missing_key(keys: AuditKeyring, kid: str, where: str, path: str | None) -> AuditError:
    have = ", ".join(keys.label(k) for k in keys) or "none"
    return AuditError(
        f"{keys.source} has no key with id {kid}, which {where} is under (it holds {have}); "
        "pass the log's key, or a keyring holding every key the log was written with. If no key "
        f"of yours has id {kid}, treat the log as rewritten under someone else's key",
        path=keys.path or path,
    )


def verify_entries(
    entries: Iterable[AuditEntry],
    *,
    meta: LogMeta,
    keys: AuditKeyring | None = None,
    head: HeadState = None,
    witness: Checkpoint | None = None,
    path: str | None = None,
) -> VerifyResult:
    """Verify a v2 chain in sequence order (shared by every sink).

    :param head: the log's own checkpoint (``None``: not compared).
    :param witness: a checkpoint of this log kept elsewhere (an earlier head copied off the
        host): the log must still extend it, which catches a rollback of both files.
    :raises AuditError: the keys given lack a key id the log needs (bad input, not tamper).
    """
    keys = keys if keys is not None else AuditKeyring()
    result = VerifyResult(ok=True, records=0, log_id=meta.log_id, key_ids=[meta.kid])
    # (hash, key id after it) at each position a checkpoint will be compared with.
    wanted = {cp.size for cp in (head, witness) if isinstance(cp, Checkpoint)}
    anchors: dict[int, tuple[str, str]] = {0: (meta.genesis, meta.kid)}
    unchecked_macs: dict[str, int] = {}
    intents: dict[str, int] = {}
    finished: set[str] = set()
    try:
        if meta.kid == NO_KEY and len(keys):
            raise Failed(
                0,
                "the log says it was written without a key, so it carries no MACs, but a key was given: "
                "it was created unkeyed, or rewritten by someone without the key",
            )
        expected, prev, current = 1, meta.genesis, meta.kid
        for entry in entries:
            result.records += 1
            seq = entry.seq
            if seq > expected:
                raise Failed(expected, f"record {expected} is missing (the next one is {seq})")
            if seq < expected:
                raise Failed(seq, f"record {seq} is out of order or repeated")
            if entry.prev_hash != prev:
                if seq == 1:
                    raise Failed(
                        1, "record 1 does not chain to the log header (header edited, or another log's records)"
                    )
                raise Failed(seq, "prev_hash does not match the previous record (deleted, reordered or inserted)")
            if not is_key_id(entry.kid) or record_hash(seq, prev, entry.kid, entry.body) != entry.hash:
                raise Failed(seq, "record content does not match its hash (edited)")
            if entry.kid != current:
                raise Failed(seq, f"the record claims key id {entry.kid} but the log is under {current} here")
            if current != NO_KEY:
                key = keys.get(current)
                if key is not None:
                    if not hmac.compare_digest(record_mac(key, entry.hash), entry.mac or ""):
                        raise Failed(seq, "MAC does not verify with the log's key (forged or rewritten)")
                    result.records_mac_checked += 1
                elif len(keys):
                    raise _missing_key(keys, current, f"record {seq}", path)
                else:
                    unchecked_macs[current] = unchecked_macs.get(current, 0) + 1
            current = _check_body(entry, current, intents, finished, result)
            prev = entry.hash
            expected += 1
            if seq in wanted:
                anchors[seq] = (entry.hash, current)
        _check_head(head, meta, keys, expected - 1, anchors, result, path)
        if witness is not None:
            _check_witness(witness, head, meta, keys, expected - 1, anchors, result, path)
    except Failed as failed:
        result.ok, result.first_bad_seq, result.reason = False, failed.seq, failed.reason
        return result
    if meta.kid == NO_KEY:
        result.unchecked.append(
            "MACs: the log was created without a key, so neither its records nor its checkpoint carry one "
            "(anyone who can write the files can rewrite them consistently)"
        )
    elif unchecked_macs:
        n = sum(unchecked_macs.values())
        result.unchecked.append(f"the MACs of {n} record(s) under key id(s) {', '.join(unchecked_macs)}: no key given")
    result.macs_checked = meta.kid != NO_KEY and not unchecked_macs
    if intents:
        result.open_calls = list(intents)
        shown = ", ".join(result.open_calls[:_SHOWN_OPEN_CALLS])
        more = f" and {len(intents) - _SHOWN_OPEN_CALLS} more" if len(intents) > _SHOWN_OPEN_CALLS else ""
        result.warnings.append(f"{len(intents)} call(s) without outcome: crashed or in flight ({shown}{more})")
    return result


def _check_body(
    entry: AuditEntry, current: str, intents: dict[str, int], finished: set[str], result: VerifyResult
) -> str:
    """Rotation and intent/outcome rules; returns the key id after this record."""
    seq = entry.seq
    if '"kind":' not in entry.body:  # a plain (v1-style) record: nothing more to check
        return current
    try:
        body = json.loads(entry.body)
    except ValueError:
        raise Failed(seq, "record body is not JSON") from None
    except RecursionError:  # writers refuse such bodies (MAX_DEPTH): this one was forged
        raise Failed(seq, "record body nests deeper than any writer writes") from None
    kind = body.get("kind") if isinstance(body, dict) else None
    if kind == ROTATION:
        target = body.get("to_kid")
        if body.get("from_kid") != current or not is_key_id(target) or target == NO_KEY:
            raise Failed(seq, f"malformed key rotation (from {body.get('from_kid')!r}, the log is under {current})")
        result.key_ids.append(str(target))
        return str(target)
    if kind not in ("intent", "outcome"):
        return current
    call_id = body.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise Failed(seq, f"{kind} record without a call_id")
    if kind == "intent":
        if call_id in intents or call_id in finished:
            raise Failed(seq, f"call {call_id} has a second intent record")
        intents[call_id] = seq
        return current
    if call_id in finished:
        raise Failed(seq, f"call {call_id} has a second outcome record")
    # trust='off' writes one record per call, after it (nothing was masked or gated before
    # sending, so there is no intent to prove); its "trust" field is MAC-covered like any.
    if body.get("sent", True) is not False and call_id not in intents and body.get("trust") != "off":
        raise Failed(seq, f"call {call_id} was sent but has no earlier intent record")
    intents.pop(call_id, None)
    finished.add(call_id)
    return current


def _check_checkpoint(
    checkpoint: Checkpoint,
    what: str,
    meta: LogMeta,
    keys: AuditKeyring,
    last: int,
    anchors: dict[int, tuple[str, str]],
    path: str | None,
) -> bool | str:
    """Compare a checkpoint with the log; ``True`` when its MAC was checked, else what was not."""
    if checkpoint.log_id != meta.log_id:
        raise Failed(0, f"{what} belongs to another log ({checkpoint.log_id}; this log is {meta.log_id})")
    if checkpoint.size > last:
        raise Failed(last + 1, f"the log ends at {last} but {what} says {checkpoint.size} (truncated or rolled back)")
    last_hash, kid = anchors[checkpoint.size]
    if checkpoint.last_hash != last_hash:
        raise Failed(checkpoint.size, f"{what} does not match record {checkpoint.size} (rewritten)")
    if checkpoint.kid != kid:
        raise Failed(checkpoint.size, f"{what} claims key id {checkpoint.kid} but the log is under {kid} there")
    if kid == NO_KEY:
        return f"{what}'s MAC: the log has none"
    key = keys.get(kid)
    if key is not None:
        if not checkpoint.mac_ok(key):
            raise Failed(checkpoint.size, f"{what}'s MAC does not verify (forged, or copied from elsewhere)")
        return True
    if len(keys):
        raise _missing_key(keys, kid, what, path)
    return f"{what}'s MAC (key id {kid}): no key given"


def _check_head(
    head: HeadState,
    meta: LogMeta,
    keys: AuditKeyring,
    last: int,
    anchors: dict[int, tuple[str, str]],
    result: VerifyResult,
    path: str | None,
) -> None:
    if head is None:
        result.unchecked.append("the head checkpoint: not compared (truncation cannot be detected)")
        return
    if head == "missing":
        raise Failed(0, "the head file is missing: it is created with the log, so it was deleted")
    if head == "empty":
        raise Failed(0, "the head file is empty: it always holds a checkpoint, so it was cleared")
    checked = _check_checkpoint(head, "the head checkpoint", meta, keys, last, anchors, path)
    result.head_checked = True
    if checked is True:
        result.checkpoint_mac_checked = True
    elif meta.kid != NO_KEY:  # an unkeyed log's missing MACs are reported once, below
        result.unchecked.append(str(checked))
    if head.size < last:
        result.unanchored = last - head.size
        result.warnings.append(
            f"{result.unanchored} record(s) after the last checkpoint ({head.size}): a writer stopped between "
            "its commit and the checkpoint; the next append re-anchors them"
        )


def _check_witness(
    witness: Checkpoint,
    head: HeadState,
    meta: LogMeta,
    keys: AuditKeyring,
    last: int,
    anchors: dict[int, tuple[str, str]],
    result: VerifyResult,
    path: str | None,
) -> None:
    checked = _check_checkpoint(witness, "the witnessed checkpoint", meta, keys, last, anchors, path)
    if isinstance(head, Checkpoint) and head.size < witness.size:
        raise Failed(head.size + 1, f"the head ({head.size}) is older than the witnessed checkpoint ({witness.size})")
    if checked is not True and meta.kid != NO_KEY:
        result.unchecked.append(str(checked))


# -- merging shard chains (batch jobs) ---------------------------------------------------------

#: Record kind of a batch job's merge: the shard logs' heads under one Merkle root.
MERGE = "batch_merge"


def merkle_leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def merkle_node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash of the leaf inputs, in order (the empty tree is
    ``SHA-256("")``)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return merkle_leaf_hash(leaves[0])
    k = _split(len(leaves))
    return merkle_node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def merkle_inclusion_proof(index: int, leaves: list[bytes]) -> list[bytes]:
    """The RFC 6962 audit path of leaf ``index``: O(log n) hashes that prove one shard is
    under the root without the others' heads."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*merkle_inclusion_proof(index, leaves[:k]), merkle_root(leaves[k:])]
    return [*merkle_inclusion_proof(index - k, leaves[k:]), merkle_root(leaves[:k])]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """Check an audit path (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    digest = merkle_leaf_hash(leaf)
    for sibling in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            digest = merkle_node_hash(sibling, digest)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            digest = merkle_node_hash(digest, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(digest, root)


def shard_leaf(shard: Any) -> bytes:
    """The leaf input of one shard: its id, log id, size and last record hash, canonical
    JSON (what a tamperer would have to reproduce)."""
    fields = {k: shard[k] for k in ("shard_id", "log_id", "size", "last_hash")}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
