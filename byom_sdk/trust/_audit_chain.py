"""The chain as writers build it: which key the next record is MACed with (or why this
writer is refused), the rotation record, and the in-memory sink that shares this code with
the SQLite sink."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, NamedTuple

from .._errors import AuditError
from ._audit_format import (
    NO_KEY,
    ROTATION,
    AuditEntry,
    Checkpoint,
    LogMeta,
    canonical_json,
    record_hash,
    record_mac,
    utc_now,
)
from ._audit_keys import AuditKeyring
from ._audit_verify import VerifyResult, verify_entries

__all__ = ["MemoryAuditSink", "Tail", "build_entries", "plan_keys", "record_body"]


class Tail(NamedTuple):
    seq: int
    hash: str
    kid: str  # the key id the next record is under


class _Plan(NamedTuple):
    kid: str
    key: bytes | None
    rotate_from: tuple[str, bytes] | None


def _env_hint(keys: AuditKeyring) -> str:
    if keys.env:
        return f"set {keys.env} to it (or key_file / keyring in trust.audit.config)"
    return "configure it (trust.audit.hmac_key_env, or key_file / keyring in trust.audit.config)"


def plan_keys(keys: AuditKeyring, current: str, label: str) -> _Plan:
    """Which key the next record is MACed with, or why this writer may not extend the log.

    :param current: the log's key id at its tail.
    :param label: the log, for messages.
    """
    active = keys.active
    if current == NO_KEY:
        if active is None:
            return _Plan(NO_KEY, None, None)
        raise AuditError(
            f"audit log {label} was created without an audit key, but {keys.source} holds one "
            f"(key id {active[0]}): a keyed writer does not extend an unkeyed log. Start a new log: "
            f"move {label} and its .head file aside, or point trust.audit.path at a new file",
            path=label,
        )
    if active is None:
        unset = f"{keys.source} is unset" if keys.env else "hmac_key_env, key_file and keyring are unset"
        raise AuditError(
            f"audit log {label} is MACed with audit key id {current}, but no key is configured "
            f"({unset}): {_env_hint(keys)}",
            path=label,
        )
    if active[0] == current:
        return _Plan(active[0], active[1], None)
    old = keys.get(current)
    if old is not None:
        return _Plan(active[0], active[1], (current, old))
    raise AuditError(
        f"audit log {label} is MACed with audit key id {current}, but {keys.source} holds key id "
        f"{active[0]} (the wrong key): {_env_hint(keys)}, or use a keyring holding both keys to rotate",
        path=label,
    )


def build_entries(tail: Tail, keys: AuditKeyring, body: str, label: str) -> list[AuditEntry]:
    """The entries appending ``body`` after ``tail`` adds (a rotation record first when the
    active key is not the log's current one)."""
    plan = plan_keys(keys, tail.kid, label)
    seq, prev = tail.seq + 1, tail.hash
    entries: list[AuditEntry] = []
    if plan.rotate_from is not None:
        old_kid, old_key = plan.rotate_from
        note = canonical_json({"kind": ROTATION, "from_kid": old_kid, "to_kid": plan.kid, "time": utc_now()})
        digest = record_hash(seq, prev, old_kid, note)
        entries.append(AuditEntry(seq, prev, digest, record_mac(old_key, digest), note, old_kid))
        seq, prev = seq + 1, digest
    digest = record_hash(seq, prev, plan.kid, body)
    entries.append(AuditEntry(seq, prev, digest, record_mac(plan.key, digest), body, plan.kid))
    return entries


def record_body(record: Mapping[str, Any], label: str) -> str:
    if record.get("kind") == ROTATION:
        raise AuditError("record kind 'rotation' is reserved for the sink's key rotation records", path=label)
    try:
        return canonical_json(record if type(record) is dict else dict(record))
    except (TypeError, ValueError) as exc:
        raise AuditError(f"audit record for {label} is not JSON-serialisable: {exc}", path=label) from None


class MemoryAuditSink:
    """An in-memory chained sink (tests, short-lived tools): the same chain, MACs and
    checkpoint as the SQLite sink."""

    def __init__(self, config: Any = None, *, key: bytes | None = None, keyring: AuditKeyring | None = None) -> None:
        if keyring is None:
            keyring = AuditKeyring.from_key(key, source="the memory sink's key") if key else AuditKeyring()
        self.keys = keyring
        self.meta = LogMeta.new(keyring.active_or_none)
        self._tail = Tail(0, self.meta.genesis, self.meta.kid)
        self._head: Checkpoint | None = None
        self._lock = threading.Lock()
        self.entries: list[AuditEntry] = []

    @property
    def head(self) -> Checkpoint:
        """The checkpoint over the last record, MACed when asked for (nothing else reads it
        in memory, so appends do not pay for a MAC per record)."""
        with self._lock:
            if self._head is None:
                tail = self._tail
                self._head = Checkpoint.make(self.meta.log_id, tail.seq, tail.hash, tail.kid, self.keys.get(tail.kid))
            return self._head

    def open(self) -> None:
        plan_keys(self.keys, self._tail.kid, "memory")

    def append(self, record: Mapping[str, Any]) -> AuditEntry:
        body = record_body(record, "memory")
        with self._lock:
            entries = build_entries(self._tail, self.keys, body, "memory")
            self.entries.extend(entries)
            last = entries[-1]
            self._tail = Tail(last.seq, last.hash, last.kid)
            self._head = None
        return last

    @property
    def records(self) -> list[dict[str, Any]]:
        return [entry.record for entry in self.entries]

    def verify(self, keys: AuditKeyring | None = None) -> VerifyResult:
        return verify_entries(
            list(self.entries), meta=self.meta, keys=keys if keys is not None else self.keys, head=self.head
        )

    def close(self) -> None:
        return None
