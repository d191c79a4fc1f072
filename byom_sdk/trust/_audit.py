"""The tamper-evident audit trail: one hash-chained record per call.

Each record is stored as canonical JSON (sorted keys, no whitespace) together with its
sequence number, the previous record's hash and its own hash::

    hash = SHA-256("<seq>\\n<prev_hash>\\n<canonical body>")
    mac  = HMAC-SHA256(key, hash)          # only when an audit key is configured

so editing, deleting, reordering or inserting a record breaks the chain at that record.
After every append the sink also writes a *head* file (``<db>.head``: last sequence
number, hash and MAC) while it still holds the write lock; a log that ends before the
head was truncated. Without a key, anyone who can write the file can rebuild a
consistent chain from scratch, so the head file and the MACs are what stop a rewrite:
keep the key outside the machine that writes the log and ship head files elsewhere.

The SQLite sink runs in WAL mode with a busy timeout and appends inside
``BEGIN IMMEDIATE`` (read the last hash, insert, write head, commit), so concurrent
writers, threads or processes, serialise on SQLite's own lock and leave one valid chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditSink",
    "MemoryAuditSink",
    "SqliteAuditSink",
    "SqliteSinkConfig",
    "VerifyResult",
    "canonical_json",
    "chain_hash",
    "read_audit",
    "verify_audit",
    "verify_entries",
]

#: ``prev_hash`` of the first record.
GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """The one serialization that is hashed: sorted keys, compact, UTF-8, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def chain_hash(seq: int, prev_hash: str, body: str) -> str:
    """The hash of record ``seq`` chained to ``prev_hash``."""
    return hashlib.sha256(f"{seq}\n{prev_hash}\n{body}".encode()).hexdigest()


def record_mac(key: bytes | None, digest: str) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest() if key else ""


def key_from_env(name: str | None) -> bytes | None:
    """The audit key from environment variable ``name`` (``None`` when unset or empty)."""
    if not name:
        return None
    value = os.environ.get(name)
    return value.encode() if value else None


@dataclass(frozen=True)
class AuditEntry:
    """A stored record with its chain fields."""

    seq: int
    prev_hash: str
    hash: str
    mac: str
    body: str

    @property
    def record(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "prev_hash": self.prev_hash, "hash": self.hash, "mac": self.mac, **self.record}


@runtime_checkable
class AuditSink(Protocol):
    """Where records go. ``append`` must chain atomically (read last hash + insert)."""

    def append(self, record: Mapping[str, Any]) -> AuditEntry: ...

    def close(self) -> None: ...


@dataclass
class VerifyResult:
    """The outcome of :func:`verify_audit`.

    :param ok: the whole chain (and the head, when present) checked out.
    :param records: records read.
    :param first_bad_seq: the first sequence number at fault (``None`` when ok).
    :param reason: what is wrong there.
    :param macs_checked: whether record MACs were verified (a key was given).
    :param head_checked: whether a head file was found and compared.
    """

    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str | None = None
    macs_checked: bool = False
    head_checked: bool = False
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        checks = ["hash chain"]
        if self.macs_checked:
            checks.append("MACs")
        if self.head_checked:
            checks.append("head")
        if self.ok:
            return f"ok: {self.records} record(s) verified ({', '.join(checks)})"
        return f"FAILED at seq {self.first_bad_seq}: {self.reason}"


def verify_entries(
    entries: Iterable[AuditEntry], *, key: bytes | None = None, head: Mapping[str, Any] | None = None
) -> VerifyResult:
    """Verify a chain of entries in sequence order (shared by every sink)."""
    macs = key is not None
    count = 0

    def fail(seq: int, reason: str) -> VerifyResult:
        return VerifyResult(False, count, seq, reason, macs, head is not None)

    expected = 1
    prev = GENESIS
    hashes: dict[int, str] = {}
    for entry in entries:
        count += 1
        if entry.seq > expected:
            return fail(expected, f"record {expected} is missing (the next one is {entry.seq})")
        if entry.seq < expected:
            return fail(entry.seq, f"record {entry.seq} is out of order")
        if entry.prev_hash != prev:
            return fail(entry.seq, "prev_hash does not match the previous record (deleted, reordered or inserted)")
        if chain_hash(entry.seq, entry.prev_hash, entry.body) != entry.hash:
            return fail(entry.seq, "record content does not match its hash (edited)")
        if key is not None and not hmac.compare_digest(record_mac(key, entry.hash), entry.mac or ""):
            return fail(entry.seq, "MAC does not verify with the given key (forged or rewritten)")
        prev = entry.hash
        hashes[entry.seq] = entry.hash
        expected += 1
    last = expected - 1
    if head is None:
        result = VerifyResult(True, count, macs_checked=macs)
        if last:
            result.warnings.append("no head file: truncation of the newest records cannot be detected")
        return result
    head_seq = int(head.get("seq", 0))
    if head_seq > last:
        return fail(last + 1, f"the log ends at {last} but the head checkpoint says {head_seq} (truncated)")
    if head_seq and hashes.get(head_seq) != head.get("hash"):
        return fail(head_seq, "record differs from the head checkpoint")
    head_mac = str(head.get("mac") or "")
    if key is not None and head_seq and not hmac.compare_digest(record_mac(key, str(head.get("hash"))), head_mac):
        return fail(head_seq, "the head checkpoint's MAC does not verify")
    if head_seq < last:
        return fail(head_seq + 1, f"records after the head checkpoint ({head_seq}) were not written by a sink")
    return VerifyResult(True, count, macs_checked=macs, head_checked=True)


class SqliteSinkConfig(BaseModel):
    """Config of the ``sqlite`` audit sink.

    :param path: database file (a ``.head`` file is written next to it).
    :param hmac_key_env: environment variable holding the MAC key.
    :param durable: ``synchronous=FULL`` (fsync every record) instead of ``NORMAL``.
    :param busy_timeout_ms: how long a writer waits for the lock.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Path("byom-audit.sqlite")
    hmac_key_env: str | None = "BYOM_AUDIT_KEY"
    durable: bool = False
    busy_timeout_ms: int = 30_000


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS records ("
    " seq INTEGER PRIMARY KEY, time TEXT NOT NULL, prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL, mac TEXT NOT NULL, body TEXT NOT NULL)"
)


def head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


_HEAD_SIZE = 256


def _write_head(fd: int, seq: int, digest: str, mac: str) -> None:
    # Overwritten in place as one fixed-size block: a write-to-temp-and-rename would make
    # ext4 flush data on every call (auto_da_alloc), ~4 ms per record.
    data = canonical_json({"seq": seq, "hash": digest, "mac": mac}).encode()
    os.pwrite(fd, data.ljust(_HEAD_SIZE, b" "), 0)


class SqliteAuditSink:
    """The default sink: a hash-chained SQLite file, safe for concurrent writers."""

    def __init__(self, config: SqliteSinkConfig) -> None:
        self.path = Path(config.path)
        self._key = key_from_env(config.hmac_key_env)
        self._config = config
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._head_fd: int | None = None

    @classmethod
    def from_config(cls, config: SqliteSinkConfig) -> SqliteAuditSink:
        return cls(config)

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self._config.busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout={int(self._config.busy_timeout_ms)}")
        deadline = time.monotonic() + self._config.busy_timeout_ms / 1000
        while True:  # switching to WAL needs a moment without other writers
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        conn.execute(f"PRAGMA synchronous={'FULL' if self._config.durable else 'NORMAL'}")
        conn.execute(_SCHEMA)
        self._head_fd = os.open(head_path(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        self._conn = conn
        return conn

    def append(self, record: Mapping[str, Any]) -> AuditEntry:
        """Append ``record`` to the chain (atomic across threads and processes)."""
        body = canonical_json(dict(record))
        stamp = str(record.get("time", ""))
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            row = None
            try:
                row = conn.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
                digest = chain_hash(seq, prev, body)
                mac = record_mac(self._key, digest)
                conn.execute(
                    "INSERT INTO records (seq, time, prev_hash, hash, mac, body) VALUES (?, ?, ?, ?, ?, ?)",
                    (seq, stamp, prev, digest, mac, body),
                )
                assert self._head_fd is not None
                _write_head(self._head_fd, seq, digest, mac)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                if row is not None and self._head_fd is not None:  # back to the last committed record
                    try:
                        _write_head(self._head_fd, row[0], row[1], record_mac(self._key, row[1]))
                    except OSError:
                        pass
                raise
        return AuditEntry(seq, prev, digest, mac, body)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._head_fd is not None:
                os.close(self._head_fd)
                self._head_fd = None


class MemoryAuditSink:
    """An in-memory chained sink (tests, short-lived tools)."""

    def __init__(self, config: Any = None, *, key: bytes | None = None) -> None:
        self._key = key
        self._lock = threading.Lock()
        self.entries: list[AuditEntry] = []

    def append(self, record: Mapping[str, Any]) -> AuditEntry:
        body = canonical_json(dict(record))
        with self._lock:
            seq = len(self.entries) + 1
            prev = self.entries[-1].hash if self.entries else GENESIS
            digest = chain_hash(seq, prev, body)
            entry = AuditEntry(seq, prev, digest, record_mac(self._key, digest), body)
            self.entries.append(entry)
        return entry

    @property
    def records(self) -> list[dict[str, Any]]:
        return [entry.record for entry in self.entries]

    def verify(self) -> VerifyResult:
        return verify_entries(self.entries, key=self._key)

    def close(self) -> None:
        return None


def _open_ro(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise FileNotFoundError(f"audit log not found: {path}")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def read_audit(path: str | Path, *, limit: int | None = None, newest_first: bool = True) -> Iterator[AuditEntry]:
    """Entries of a SQLite audit log (newest first by default)."""
    conn = _open_ro(Path(path))
    try:
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT seq, prev_hash, hash, mac, body FROM records ORDER BY seq {order}"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        for row in conn.execute(sql, params):
            yield AuditEntry(int(row[0]), row[1], row[2], row[3], row[4])
    finally:
        conn.close()


def verify_audit(
    path: str | Path, *, key: bytes | str | None = None, key_env: str | None = None, check_head: bool = True
) -> VerifyResult:
    """Verify a SQLite audit log: chain, MACs (with a key) and the head checkpoint.

    :param path: the database file.
    :param key: the audit MAC key; or name an environment variable with ``key_env``.
    :param check_head: compare with ``<path>.head`` when it exists.
    """
    path = Path(path)
    if isinstance(key, str):
        key = key.encode()
    if key is None and key_env:
        key = key_from_env(key_env)
    head: dict[str, Any] | None = None
    head_file = head_path(path)
    if check_head and head_file.exists():
        try:
            text = head_file.read_text(encoding="utf-8").strip()
            head = json.loads(text) if text else None
        except (OSError, ValueError):
            return VerifyResult(False, 0, 1, f"head file {head_file} is unreadable", key is not None, True)
    conn = _open_ro(path)
    try:
        rows = conn.execute("SELECT seq, prev_hash, hash, mac, body FROM records ORDER BY seq ASC")
        entries = (AuditEntry(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows)
        return verify_entries(entries, key=key, head=head)
    finally:
        conn.close()
