"""The tamper-evident audit trail: a hash-chained, MACed log with a checkpoint (format v2).

Each record is its canonical JSON body (``time`` included) plus chain fields::

    hash = SHA-256("byom-audit/v2/record\\0" || seq || prev_hash || kid || "\\0" || body)
    mac  = HMAC(key, "byom-audit/v2/record-mac\\0" || hash)        # keyed logs only

The log header (``meta`` table: random log id, format, created time, key id or ``none``) is
hashed into the first record's ``prev_hash``. ``<db>.head`` holds a checkpoint -- log id,
size, last hash, key id, time -- under ``HMAC(key, "byom-audit/v2/checkpoint\\0" || ...)``.
It is created with the log, so a missing head means a deleted one, and rewritten after each
commit, so a crash leaves it behind the log (an "unanchored tail", reported as a warning)
but never ahead of it (which would be truncation or rollback). See docs/audit.md.

A log keeps the key it was created with: a writer without it, or with another key, is
refused when the sink opens. A writer holding a keyring with the log's key and a new active
key appends a rotation record MACed under the old key that names the new one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from .._errors import AuditError
from ._audit_chain import MemoryAuditSink, Tail, build_entries, plan_keys, record_body
from ._audit_format import (
    HEAD_SIZE,
    SCHEMA,
    AuditEntry,
    Checkpoint,
    LogMeta,
    canonical_json,
    head_path,
    key_id,
    record_hash,
    record_mac,
    rotation_target,
)
from ._audit_keys import AuditKeyring, content_key, key_from_env, load_key_file, load_keyring
from ._audit_read import GENESIS, chain_hash, foreign_objects, read_audit, schema_drift, verify_audit
from ._audit_verify import VerifyResult, verify_entries

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer process per log
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditKeyring",
    "AuditSink",
    "Checkpoint",
    "LogMeta",
    "MemoryAuditSink",
    "SqliteAuditSink",
    "SqliteSinkConfig",
    "VerifyResult",
    "canonical_json",
    "chain_hash",
    "content_key",
    "head_path",
    "key_from_env",
    "key_id",
    "load_key_file",
    "load_keyring",
    "read_audit",
    "record_hash",
    "record_mac",
    "verify_audit",
    "verify_entries",
]

log = logging.getLogger("byom_sdk.trust.audit")


@runtime_checkable
class AuditSink(Protocol):
    """Where records go.

    ``open`` creates or opens the store, checks it is writable and that the configured key
    matches the log's (raising :class:`~byom_sdk.AuditError` naming the store); it is
    idempotent and runs before the first call is sent. ``append`` chains atomically (read
    the last hash and insert in one transaction) and raises ``AuditError`` on failure.
    """

    def open(self) -> None: ...

    def append(self, record: Mapping[str, Any]) -> AuditEntry: ...

    def close(self) -> None: ...


class SqliteSinkConfig(BaseModel):
    """Config of the ``sqlite`` audit sink.

    :param path: database file (``<path>.head`` holds its checkpoint).
    :param hmac_key_env: environment variable holding the MAC key.
    :param key_file: a file holding the key (one line) instead of the variable.
    :param keyring: a keyring file (JSON or TOML: ``active`` and ``keys``) instead of both;
        rotates the log to the active key when it holds the log's current key.
    :param durable: ``synchronous=FULL`` (fsync every record) instead of ``NORMAL``; only
        then does a head ahead of the log prove tampering after a power loss.
    :param busy_timeout_ms: how long a writer waits for the lock.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Path("byom-audit.sqlite")
    hmac_key_env: str | None = "BYOM_AUDIT_KEY"
    key_file: Path | None = None
    keyring: Path | None = None
    durable: bool = False
    busy_timeout_ms: int = 30_000


_ASIDE = "move it and its .head file aside to start a new log"


@contextlib.contextmanager
def _head_lock(fd: int, timeout: float) -> Iterator[None]:
    """Exclusive advisory lock on the head file, bounded like SQLite's busy timeout."""
    if fcntl is None:
        yield
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError("the head file stayed locked") from None
            time.sleep(0.0002)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


_FileId = tuple[int, int]


def _file_id(stat: os.stat_result) -> _FileId:
    return (stat.st_dev, stat.st_ino)


class SqliteAuditSink:
    """The default sink: a hash-chained SQLite file, safe for concurrent writers.

    Appends run in WAL mode inside ``BEGIN IMMEDIATE`` (read the tail, insert, commit), so
    threads and processes serialise on SQLite's lock and leave one chain. The checkpoint is
    written after the commit, under an advisory lock, and only ever moves forward.
    """

    def __init__(self, config: SqliteSinkConfig, *, keys: AuditKeyring | None = None) -> None:
        self.path = Path(config.path)
        self.head_file = head_path(self.path)
        self._config = config
        self._given_keys = keys
        self._keys = keys if keys is not None else AuditKeyring()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._head_fd: int | None = None
        self._meta: LogMeta | None = None
        self._tail: Tail | None = None
        self._written: bytes | None = None  # the head block this sink wrote last
        self._written_size = -1
        self._pid = os.getpid()
        self._inherited: list[tuple[sqlite3.Connection, int | None]] = []
        self._identity: tuple[_FileId, _FileId] | None = None  # (database, head) as opened
        # Statements compiled (counted by the authorizer) and the count when the schema was
        # last found intact: SQLite recompiles a cached statement after any schema change.
        self._compiles = 0
        self._schema_seen = -1

    @classmethod
    def from_config(cls, config: SqliteSinkConfig) -> SqliteAuditSink:
        return cls(config)

    @property
    def log_id(self) -> str | None:
        return self._meta.log_id if self._meta else None

    @property
    def key_id(self) -> str:
        """The key id new records are MACed with (``"none"`` without a key)."""
        return self._keys.active_or_none

    @property
    def keys(self) -> AuditKeyring:
        """The keys this sink writes with (loaded by :meth:`open`; ``keys.active`` is
        ``(key id, key)`` or ``None``)."""
        self.open()
        return self._keys

    # -- opening ---------------------------------------------------------------------------

    def open(self) -> None:
        """Create or open the log; check it is writable and the key matches.

        :raises AuditError: naming the file (and the key variable when the key is at fault).
        """
        with self._lock:
            self._open_locked()

    def _open_locked(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            return
        if self._conn is not None:
            # A forked child must not use (or close: POSIX locks are per process) the
            # parent's handles, nor share its head lock (flock is per open file): keep them
            # referenced and open its own.
            self._inherited.append((self._conn, self._head_fd))
        self._conn, self._head_fd, self._pid = None, None, os.getpid()
        keys = self._given_keys if self._given_keys is not None else AuditKeyring.from_config(self._config)
        label = str(self.path)
        conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # The head file before the database: a log without a header and without a
                # head file is then never one a writer left, but one that was wiped.
                os.close(os.open(self.head_file, os.O_RDWR | os.O_CREAT, 0o600))
                _fsync_dir(self.head_file.parent)
            conn = self._connect()
            meta, tail, fd = self._prepare(conn, keys)
            identity = (_file_id(os.stat(self.path)), _file_id(os.fstat(fd)))
        except BaseException as exc:
            if conn is not None:
                conn.close()
            # ValueError/OverflowError: a tail row edited into something no writer stores.
            if isinstance(exc, (sqlite3.Error, OSError, ValueError, OverflowError)):
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise AuditError(f"audit log {label} cannot be opened for writing: {reason}", path=label) from None
            raise
        self._conn, self._head_fd, self._meta, self._tail, self._keys = conn, fd, meta, tail, keys
        self._identity = identity

    def _connect(self) -> sqlite3.Connection:
        timeout = self._config.busy_timeout_ms / 1000
        conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.set_authorizer(self._authorize)
        conn.execute(f"PRAGMA busy_timeout={int(self._config.busy_timeout_ms)}")
        deadline = time.monotonic() + timeout
        while True:  # switching to WAL needs a moment without other writers
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        conn.execute(f"PRAGMA synchronous={'FULL' if self._config.durable else 'NORMAL'}")
        return conn

    def _authorize(self, action: int, arg1: str | None, arg2: str | None, db: str | None, inner: str | None) -> int:
        """Deny what a trigger or view does (see :func:`refuse_triggers`); count compiles.

        Runs only when SQLite compiles a statement — once per cached statement, and again
        after any schema change — so counting here costs appends nothing.
        """
        if inner:
            return sqlite3.SQLITE_DENY
        self._compiles += 1
        return sqlite3.SQLITE_OK

    def _schema_problem(self, conn: sqlite3.Connection) -> str:
        label = str(self.path)
        drift = foreign_objects(conn) or schema_drift(conn)
        if not drift:
            return ""
        return (
            f"audit log {label} holds {drift}, which no byom writer creates: it can drop or rewrite "
            f"records as they are written. Keep the files as evidence, run `byom audit verify {label}`, "
            f"then {_ASIDE}"
        )

    def _prepare(self, conn: sqlite3.Connection, keys: AuditKeyring) -> tuple[LogMeta, Tail, int]:
        label = str(self.path)
        # The write lock proves the store writable and serialises creation across processes;
        # the head is looked for under it, after any racing creator has committed.
        conn.execute("BEGIN IMMEDIATE")
        fd: int | None = None
        try:
            try:
                fd = os.open(self.head_file, os.O_RDWR)
            except FileNotFoundError:
                fd = None
            foreign = foreign_objects(conn)
            if foreign:
                raise AuditError(
                    f"audit log {label} holds {foreign}, which no byom writer creates: they can drop or "
                    f"rewrite records as they are written. Keep the files as evidence, run "
                    f"`byom audit verify {label}`, then {_ASIDE}",
                    path=label,
                )
            tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "records" in tables and "kid" not in [str(r[1]) for r in conn.execute("PRAGMA table_info(records)")]:
                raise AuditError(
                    f"audit log {label} is in format v1, which this version verifies but does not extend: "
                    f"check it with `byom audit verify {label}`, then {_ASIDE}",
                    path=label,
                )
            if "meta" not in tables:
                if "records" in tables:
                    raise AuditError(f"audit log {label} has records but no header (meta table): {_ASIDE}", path=label)
                meta, fd = self._create(conn, fd, keys)
                conn.execute("COMMIT")
                return meta, Tail(0, meta.genesis, meta.kid), fd
            try:
                meta = LogMeta.parse({str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")})
            except ValueError as exc:
                raise AuditError(f"audit log {label}: {exc}", path=label) from None
            problem = self._schema_problem(conn)
            if problem:
                raise AuditError(problem, path=label)
            if fd is None:
                raise AuditError(
                    f"audit log {label} has lost its head file {self.head_file} (it is created with the log, "
                    f"so it was deleted): run `byom audit verify {label}`, then {_ASIDE}",
                    path=label,
                )
            tail = self._read_tail(conn, meta, None)
            self._check_head(conn, fd, meta, tail, keys)
            plan_keys(keys, tail.kid, label)
            conn.execute("ROLLBACK")
            return meta, tail, fd
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if fd is not None:
                os.close(fd)
            raise

    def _create(self, conn: sqlite3.Connection, fd: int | None, keys: AuditKeyring) -> tuple[LogMeta, int]:
        label = str(self.path)
        if fd is not None:
            with _head_lock(fd, self._config.busy_timeout_ms / 1000):
                data = os.pread(fd, HEAD_SIZE * 2, 0)
            try:
                old = Checkpoint.parse(data)
            except ValueError:
                raise AuditError(
                    f"audit log {label} is new but {self.head_file} exists and is not a checkpoint: move it aside",
                    path=label,
                ) from None
            if old is not None and old.size > 0:
                raise AuditError(
                    f"audit log {label} has no records, but its head {self.head_file} says {old.size}: the log "
                    f"was deleted or replaced. Keep both files as evidence, then {_ASIDE}",
                    path=label,
                )
            return self._initialise(conn, fd, keys)
        fd = os.open(self.head_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            return self._initialise(conn, fd, keys)
        except BaseException:
            os.close(fd)
            raise

    def _initialise(self, conn: sqlite3.Connection, fd: int, keys: AuditKeyring) -> tuple[LogMeta, int]:
        meta = LogMeta.new(keys.active_or_none)
        active = keys.active
        for statement in SCHEMA:
            conn.execute(statement)
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.as_dict().items())
        # The empty log's checkpoint is durable before the header commits: a log whose head
        # is missing was never one this sink created, so a missing head means deletion.
        os.pwrite(
            fd, Checkpoint.make(meta.log_id, 0, meta.genesis, meta.kid, active[1] if active else None).encode(), 0
        )
        os.ftruncate(fd, HEAD_SIZE)
        os.fsync(fd)
        _fsync_dir(self.head_file.parent)
        return meta, fd

    def _read_tail(self, conn: sqlite3.Connection, meta: LogMeta, known: Tail | None) -> Tail:
        row = conn.execute("SELECT seq, hash, kid FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return Tail(0, meta.genesis, meta.kid)
        seq, digest, kid = int(row[0]), str(row[1]), str(row[2])
        if known is not None and known.seq == seq and known.hash == digest:
            return known  # nobody else appended: skip reading the body
        body = conn.execute("SELECT body FROM records WHERE seq = ?", (seq,)).fetchone()[0]
        return Tail(seq, digest, rotation_target(str(body)) or kid)

    def _check_head(self, conn: sqlite3.Connection, fd: int, meta: LogMeta, tail: Tail, keys: AuditKeyring) -> None:
        """Refuse to extend a log whose checkpoint says it was truncated or rewritten."""
        label = str(self.path)
        verify = f"run `byom audit verify {label}`, then {_ASIDE}"
        with _head_lock(fd, self._config.busy_timeout_ms / 1000):
            data = os.pread(fd, HEAD_SIZE * 2, 0)
        try:
            head = Checkpoint.parse(data)
        except ValueError as exc:
            raise AuditError(f"head file {self.head_file} is not a checkpoint ({exc}): {verify}", path=label) from None
        if head is None:
            raise AuditError(f"head file {self.head_file} is empty (it was cleared): {verify}", path=label)
        if head.log_id != meta.log_id:
            raise AuditError(f"head file {self.head_file} belongs to another log: {verify}", path=label)
        if head.size > tail.seq:
            raise AuditError(
                f"audit log {label} ends at record {tail.seq} but its head says {head.size} "
                f"(truncated, rolled back, or cut by a power loss without durable = true): {verify}",
                path=label,
            )
        row = conn.execute("SELECT hash FROM records WHERE seq = ?", (head.size,)).fetchone()
        expected = meta.genesis if head.size == 0 else (str(row[0]) if row else "")
        key = keys.get(head.kid)
        if head.last_hash != expected or (key is not None and not head.mac_ok(key)):
            raise AuditError(f"head file {self.head_file} does not match the log: {verify}", path=label)

    # -- appending -------------------------------------------------------------------------

    def append(self, record: Mapping[str, Any]) -> AuditEntry:
        """Append ``record`` (atomic across threads and processes).

        :raises AuditError: the record could not be committed (nothing was written).
        """
        label = str(self.path)
        body = record_body(record, label)
        with self._lock:
            self._open_locked()
            conn, meta = self._conn, self._meta
            assert conn is not None and meta is not None
            self._check_identity()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    tail = self._read_tail(conn, meta, self._tail)
                    entries = build_entries(tail, self._keys, body, label)
                    inserted = conn.executemany(
                        "INSERT INTO records (seq, prev_hash, hash, kid, mac, body) VALUES (?, ?, ?, ?, ?, ?)",
                        [(e.seq, e.prev_hash, e.hash, e.kid, e.mac, e.body) for e in entries],
                    ).rowcount
                    if inserted != len(entries):
                        raise AuditError(
                            f"audit log {label}: {inserted} of {len(entries)} records were stored (something in "
                            "the database dropped the rest)",
                            path=label,
                        )
                    if self._compiles != self._schema_seen:
                        # Something was compiled, so the schema may have changed under this
                        # writer (a table rebuilt to delete rows on insert): check it before
                        # committing, so what the insert did is rolled back.
                        problem = self._schema_problem(conn)
                        if problem:
                            raise AuditError(problem, path=label)
                        self._schema_seen = self._compiles
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise AuditError(f"audit log {label}: the record could not be written: {exc}", path=label) from None
            except (ValueError, OverflowError) as exc:
                # The tail row was edited into something no writer stores (a hash that is no
                # hex, a seq past 2**63), or the body is no UTF-8 (a lone surrogate).
                raise AuditError(f"audit log {label}: the record could not be written: {exc}", path=label) from None
            last = entries[-1]
            self._tail = Tail(last.seq, last.hash, last.kid)
            self._advance_head(last)
        return last

    def _check_identity(self) -> None:
        """Refuse to append when the log's files are no longer the ones this sink opened.

        A head file renamed over (or a database replaced) while the log is open would
        otherwise take this writer's checkpoints in a detached file, while the path — what
        ``verify`` and a witness read — stays frozen at an older checkpoint, and the records
        after it could be erased unseen. Two ``stat`` calls per record.
        """
        label = str(self.path)
        assert self._identity is not None
        for path, opened, what in (
            (self.path, self._identity[0], "database"),
            (self.head_file, self._identity[1], "head file"),
        ):
            try:
                now = _file_id(os.stat(path))
            except OSError as exc:
                now = None
                reason = exc.strerror or str(exc)
            if now != opened:
                found = "a different file is at that path" if now is not None else f"it is gone ({reason})"
                raise AuditError(
                    f"audit log {label}: its {what} {path} was replaced or removed while the log was open "
                    f"({found}): nothing more is written. Keep the files as evidence and run "
                    f"`byom audit verify {label}`",
                    path=label,
                )

    def _advance_head(self, last: AuditEntry) -> None:
        # After COMMIT, never before: a writer killed in between leaves the head behind the
        # log (a warning), never ahead of it (which verify must treat as truncation). The
        # block is overwritten in place: write-to-temp-and-rename makes ext4 flush data on
        # every call (auto_da_alloc), ~4 ms per record.
        fd, meta = self._head_fd, self._meta
        assert fd is not None and meta is not None
        try:
            with _head_lock(fd, self._config.busy_timeout_ms / 1000):
                data = os.pread(fd, HEAD_SIZE, 0)
                if data == self._written:
                    size = self._written_size
                else:
                    try:
                        head = Checkpoint.parse(data)
                    except ValueError:
                        head = None
                    if head is None or head.log_id != meta.log_id:
                        log.error("audit head %s is not this log's checkpoint; left as found", self.head_file)
                        return
                    size = head.size
                if size >= last.seq:  # another writer already anchored a later record
                    return
                block = Checkpoint.make_block(meta.log_id, last.seq, last.hash, last.kid, self._keys.get(last.kid))
                os.pwrite(fd, block, 0)
                self._written, self._written_size = block, last.seq
        except (OSError, TimeoutError) as exc:
            # The record is committed; a stale head only leaves an unanchored tail.
            log.warning("audit head %s not updated: %s", self.head_file, exc)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._head_fd is not None:
                os.close(self._head_fd)
                self._head_fd = None

    def __enter__(self) -> SqliteAuditSink:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
