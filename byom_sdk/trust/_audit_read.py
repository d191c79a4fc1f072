"""Reading SQLite audit logs: entries, the head file, and ``verify_audit`` (format v2, and
format v1 logs read-only).

The head is read before the database snapshot is taken: writers update it after their
commit, so read in this order it can be behind the snapshot but never ahead of it, and a
verifier running beside live writers raises no false alarm.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from .._errors import AuditError
from ._audit_format import NO_KEY, SCHEMA, AuditEntry, Checkpoint, LogMeta, head_path
from ._audit_keys import AuditKeyring
from ._audit_verify import MERGE, Failed, HeadState, VerifyResult, merkle_root, shard_leaf, verify_entries

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, reads may see a torn head
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "GENESIS",
    "chain_hash",
    "foreign_objects",
    "load_checkpoint",
    "parse_head",
    "read_audit",
    "read_head_bytes",
    "refuse_triggers",
    "schema_drift",
    "shard_state",
    "verify_audit",
    "verify_merge",
]

#: ``prev_hash`` of the first record of a format v1 log.
GENESIS = "0" * 64


def _open_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection to the log.

    After a writer was killed, SQLite must rebuild the WAL index (the ``-shm`` file) before
    anyone reads, and a read-only connection may not (``SQLITE_READONLY_RECOVERY``,
    "attempt to write a readonly database"). Then one read-write connection reads the
    schema, which runs that recovery (what the next writer would do; no record changes),
    and the read-only connection is opened again.
    """
    if not path.is_file():
        raise AuditError(f"audit log not found: {path}", path=str(path))
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        if "readonly" not in str(exc):
            raise AuditError(f"cannot read audit log {path}: {exc}", path=str(path)) from None
        try:
            recover = sqlite3.connect(f"{uri}?mode=rw", uri=True)
            try:
                recover.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                recover.close()
        except sqlite3.Error as again:
            raise AuditError(f"cannot recover audit log {path} after a crash: {again}", path=str(path)) from None
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    return conn


def refuse_triggers(action: int, arg1: str | None, arg2: str | None, database: str | None, inner: str | None) -> int:
    """SQLite authorizer: deny any access made by a trigger or through a view.

    A byom log has neither; one added by someone with write access to the file (``BEFORE
    INSERT ... RAISE(IGNORE)``, an ``AFTER INSERT`` that deletes) would make committed appends
    silently vanish. The authorizer runs when a statement is compiled — with the triggers
    it fires coded in — so such a statement fails instead of running.
    """
    return sqlite3.SQLITE_DENY if inner else sqlite3.SQLITE_OK


def foreign_objects(conn: sqlite3.Connection) -> str:
    """The triggers and views in the log's schema, named (empty when there are none)."""
    rows = conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view') ORDER BY name")
    return ", ".join(f"{kind} {name!r}" for kind, name in rows)


_EXPECTED = {("table", "records"): SCHEMA[0], ("table", "meta"): SCHEMA[1]}


def schema_drift(conn: sqlite3.Connection) -> str:
    """How a v2 log's schema differs from the one writers create (empty when it does not).

    A table rebuilt with a constraint (``UNIQUE ... ON CONFLICT REPLACE`` on a generated
    column deletes the previous record on every insert, and the insert still counts one
    row), or an object added beside them, is nothing a byom writer makes. SQLite's own
    objects (the meta key's index, ``ANALYZE`` statistics) are expected.
    """
    found = []
    for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"):
        expected = _EXPECTED.get((str(kind), str(name)))
        if expected is not None:
            if sql != expected:
                found.append(f"{kind} {name!r} defined as {sql!r}")
        elif not str(name).startswith("sqlite_"):
            found.append(f"{kind} {name!r}")
    return ", ".join(found)


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")]


def load_checkpoint(path: str | Path) -> Checkpoint:
    """A checkpoint saved elsewhere (a copy of a head file), for ``verify_audit(witness=)``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditError(f"checkpoint file {path} cannot be read: {exc.strerror or exc}", path=str(path)) from None
    try:
        checkpoint = Checkpoint.parse(data)
    except ValueError as exc:
        raise AuditError(f"checkpoint file {path} is not a checkpoint: {exc}", path=str(path)) from None
    if checkpoint is None:
        raise AuditError(f"checkpoint file {path} is empty", path=str(path))
    return checkpoint


def read_head_bytes(path: Path) -> bytes | None:
    """The raw head block of the log at ``path`` (``None``: no head file)."""
    head_file = head_path(path)
    try:
        # Non-blocking: a FIFO put in the head's place must not hang verify.
        fd = os.open(head_file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError(f"head file {head_file} cannot be read: {exc.strerror or exc}", path=str(head_file)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise AuditError(f"head file {head_file} is not a regular file", path=str(head_file))
    try:
        if fcntl is not None:  # writers rewrite the block in place under this lock
            fcntl.flock(fd, fcntl.LOCK_SH)
        return os.read(fd, 1 << 16)
    except OSError as exc:
        raise AuditError(f"head file {head_file} cannot be read: {exc.strerror or exc}", path=str(head_file)) from None
    finally:
        os.close(fd)


def parse_head(data: bytes | None, path: Path) -> HeadState:
    """The head state from its raw bytes.

    :raises AuditError: the head file is not a checkpoint.
    """
    if data is None:
        return "missing"
    try:
        checkpoint = Checkpoint.parse(data)
    except ValueError as exc:
        head_file = head_path(path)
        raise AuditError(f"head file {head_file} is not a checkpoint: {exc}", path=str(head_file)) from None
    return "empty" if checkpoint is None else checkpoint


def _entries(conn: sqlite3.Connection, *, newest_first: bool, limit: int | None, v2: bool) -> Iterator[AuditEntry]:
    order = "DESC" if newest_first else "ASC"
    columns = "seq, prev_hash, hash, mac, body" + (", kid" if v2 else "")
    sql = f"SELECT {columns} FROM records ORDER BY seq {order}"
    params: tuple[int, ...] = ()
    if limit is not None:
        sql += " LIMIT ?"
        params = (limit,)
    for row in conn.execute(sql, params):
        kid = str(row[5]) if v2 else NO_KEY
        # A seq that is no integer (the column was rebuilt without its type) is a break
        # in the chain for verify to report, not a reader's crash.
        seq = row[0] if type(row[0]) is int else -1
        yield AuditEntry(seq, str(row[1]), str(row[2]), str(row[3]), str(row[4]), kid)


def _schema(conn: sqlite3.Connection) -> tuple[bool, bool]:
    """(has a meta table, records table is v2)."""
    tables = {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    has_records = "records" in tables
    v2 = has_records and "kid" in _columns(conn, "records")
    return "meta" in tables, v2 or not has_records


def read_audit(path: str | Path, *, limit: int | None = None, newest_first: bool = True) -> Iterator[AuditEntry]:
    """Entries of a SQLite audit log (newest first by default)."""
    path = Path(path)
    conn = _open_ro(path)
    try:
        try:
            _, v2 = _schema(conn)
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'records'").fetchone() is None:
                return  # created, never initialised
            yield from _entries(conn, newest_first=newest_first, limit=limit, v2=v2)
        except sqlite3.Error as exc:
            raise AuditError(f"cannot read audit log {path}: {exc}", path=str(path)) from None
    finally:
        conn.close()


def verify_audit(
    path: str | Path,
    *,
    key: bytes | str | None = None,
    key_env: str | None = None,
    key_file: str | Path | None = None,
    keyring: str | Path | AuditKeyring | None = None,
    check_head: bool = True,
    witness: str | Path | Checkpoint | None = None,
    check_shards: bool = True,
) -> VerifyResult:
    """Verify a SQLite audit log: chain, MACs (with a key), head checkpoint, call pairing,
    and the shard logs of every batch merge it records (``check_shards``).

    :param path: the database file (its checkpoint is ``<path>.head``).
    :param key: the audit key; or name it with ``key_env`` (an environment variable),
        ``key_file``, or give a ``keyring`` (file or :class:`AuditKeyring`) for a rotated log.
    :param check_head: compare with ``<path>.head`` (without it truncation goes unseen).
    :param witness: an earlier checkpoint of this log kept off the host (a copied head
        file, or a :class:`Checkpoint`): the log must still extend it, which catches a
        rollback of the database *and* its head together.
    :param check_shards: verify each ``batch_merge`` record: every shard log it names is
        verified with the same keys, still holds the recorded head at the recorded size,
        and the shards' leaves hash to the recorded Merkle root.
    :raises AuditError: unreadable log, head file or key material (bad input; tampering is
        reported in the result, not raised).
    """
    path = Path(path)
    if isinstance(keyring, AuditKeyring):
        keys = keyring
    elif keyring is not None or key_file is not None:
        keys = AuditKeyring.from_settings(key_file=key_file, keyring=keyring)
    elif key:
        keys = AuditKeyring.from_key(key)
    else:
        keys = AuditKeyring.from_env(key_env)
    witnessed = witness if isinstance(witness, Checkpoint) or witness is None else load_checkpoint(witness)
    # The head first (see the module docstring).
    head = read_head_bytes(path) if check_head else None
    merges: list[AuditEntry] = []
    conn = _open_ro(path)
    try:
        result = _verify_conn(conn, path, keys, head, check_head, witnessed, merges)
    except sqlite3.Error as exc:
        raise AuditError(f"cannot read audit log {path}: {exc}", path=str(path)) from None
    finally:
        conn.close()
    if merges and not check_shards:
        # Skipped on request, so not complete: --strict must not pass a merge it never saw.
        result.unchecked.append(f"{len(merges)} batch merge(s): their shard logs and Merkle roots (not verified)")
    elif result.ok:
        for entry in merges:
            verify_merge(entry, path, keys, result, check_head=check_head)
            if not result.ok:
                break
    return result


def _verify_conn(
    conn: sqlite3.Connection,
    path: Path,
    keys: AuditKeyring,
    raw_head: bytes | None,
    check_head: bool,
    witness: Checkpoint | None,
    merges: list[AuditEntry] | None = None,
) -> VerifyResult:
    conn.execute("BEGIN")  # one snapshot for the header and the records
    foreign = foreign_objects(conn)
    if foreign:
        return VerifyResult(
            False,
            0,
            0,
            f"the log holds {foreign}, which no byom writer creates: records may have been dropped "
            "or rewritten as they were written",
        )
    has_meta, v2 = _schema(conn)
    if not has_meta and not v2:
        if witness is not None:
            raise AuditError(f"audit log {path} is in format v1, which has no checkpoints to witness", path=str(path))
        return _verify_v1(_entries(conn, newest_first=False, limit=None, v2=False), keys, raw_head, check_head)
    head = parse_head(raw_head, path) if check_head else None
    if not has_meta:
        # The writer creates both tables and the header in one transaction.
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'records'").fetchone() is not None:
            return VerifyResult(False, 0, 0, "the log header (meta table) is missing")
        for checkpoint in (head, witness):
            if isinstance(checkpoint, Checkpoint) and checkpoint.size > 0:
                reason = f"the log has no header and no records but a checkpoint of it says {checkpoint.size}"
                return VerifyResult(False, 0, 1, reason)
        others = sorted(str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        if others:
            return VerifyResult(False, 0, 0, f"not a byom audit log: it holds other tables ({', '.join(others)})")
        if head == "missing":
            # A writer creates the head file before the database: a log without a header
            # is honest (a writer killed before its first commit) only beside one.
            return VerifyResult(False, 0, 0, "the log has no header and no head file: it was wiped")
        return VerifyResult(True, 0, unchecked=["nothing: the log was never initialised (no header)"])
    rows = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    try:
        meta = LogMeta.parse(rows)
    except ValueError as exc:
        return VerifyResult(False, 0, 0, f"the log header is not valid: {exc}")
    drift = schema_drift(conn)
    if drift:
        reason = f"the database holds {drift}, which no byom writer creates: records may be dropped as they are written"
        return VerifyResult(False, 0, 0, reason, log_id=meta.log_id)
    entries = _entries(conn, newest_first=False, limit=None, v2=True)
    if merges is not None:
        entries = _collect_merges(entries, merges)
    return verify_entries(entries, meta=meta, keys=keys, head=head, witness=witness, path=str(path))


def _collect_merges(entries: Iterator[AuditEntry], into: list[AuditEntry]) -> Iterator[AuditEntry]:
    # Canonical JSON escapes quotes inside strings, so this byte sequence is a real field.
    marker = f'"kind":"{MERGE}"'
    for entry in entries:
        if marker in entry.body:
            into.append(entry)
        yield entry


# -- batch merges -------------------------------------------------------------------------------


def shard_state(path: str | Path) -> dict[str, object]:
    """A shard log's identity and tail as a merge records it: ``log_id``, ``kid``, ``size``
    and ``last_hash`` (the hash of record ``size``; the genesis value when empty)."""
    path = Path(path)
    conn = _open_ro(path)
    try:
        rows = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        meta = LogMeta.parse(rows)
        row = conn.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
    except (sqlite3.Error, ValueError) as exc:
        raise AuditError(f"cannot read shard log {path}: {exc}", path=str(path)) from None
    finally:
        conn.close()
    size, last = (int(row[0]), str(row[1])) if row else (0, meta.genesis)
    return {"log_id": meta.log_id, "kid": meta.kid, "size": size, "last_hash": last}


def _hash_at(path: Path, seq: int) -> str | None:
    conn = _open_ro(path)
    try:
        if seq == 0:
            rows = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
            return LogMeta.parse(rows).genesis
        row = conn.execute("SELECT hash FROM records WHERE seq = ?", (seq,)).fetchone()
        return str(row[0]) if row else None
    finally:
        conn.close()


def verify_merge(
    entry: AuditEntry, main: Path, keys: AuditKeyring, result: VerifyResult, *, check_head: bool = True
) -> None:
    """Verify one ``batch_merge`` record of ``main`` into ``result``: each shard log it
    names (relative to ``main``'s folder) verifies with ``keys``, is the log recorded (log
    id), holds the recorded ``last_hash`` at the recorded ``size``, and the shards' leaves,
    sorted by shard id, hash to the recorded root. Records a shard gained after the merge
    are a warning."""
    seq = entry.seq
    try:
        record = json.loads(entry.body)
        head = record["tree_head"]
        shards = list(record["shards"])
        root = str(head["sha256_root_hash"])
        size = int(head["tree_size"])
    except (ValueError, KeyError, TypeError, RecursionError):
        result.ok, result.first_bad_seq, result.reason = False, seq, "malformed batch_merge record"
        return

    def fail(reason: str) -> None:
        result.ok, result.first_bad_seq = False, seq
        result.reason = f"batch merge of job {record.get('job_id')}: {reason}"

    if size != len(shards) or [s.get("shard_id") for s in shards] != sorted(s.get("shard_id") for s in shards):
        fail("the tree size or the order of its shards does not match the record")
        return
    records = 0
    for shard in shards:
        name = str(shard.get("shard_id"))
        relative = Path(str(shard.get("path", "")))
        shard_path = relative if relative.is_absolute() else main.parent / relative
        if not shard_path.is_file():
            fail(f"shard log {shard_path} is missing")
            return
        checked = verify_audit(shard_path, keyring=keys, check_head=check_head, check_shards=False)
        if not checked.ok:
            fail(f"shard {name} ({shard_path}) does not verify: {checked.describe()}")
            return
        state = shard_state(shard_path)
        if state["log_id"] != shard.get("log_id"):
            fail(f"shard {name} ({shard_path}) is another log than the one merged")
            return
        recorded = int(shard.get("size", -1))
        if int(str(state["size"])) < recorded:
            fail(f"shard {name} ends at {state['size']} but was merged at {recorded} (truncated)")
            return
        if _hash_at(shard_path, recorded) != shard.get("last_hash"):
            fail(f"shard {name} differs from its merged head at record {recorded} (rewritten)")
            return
        if int(str(state["size"])) > recorded:
            result.warnings.append(
                f"shard {name} gained {int(str(state['size'])) - recorded} record(s) after its merge"
            )
        result.warnings.extend(f"shard {name}: {w}" for w in checked.warnings)
        result.unchecked.extend(f"shard {name}: {u}" for u in checked.unchecked if u not in result.unchecked)
        records += recorded
    computed = merkle_root([shard_leaf(s) for s in shards]).hex()
    if computed != root:
        fail(f"the shards hash to root {computed[:16]}…, the record says {root[:16]}…")
        return
    result.merged.append(
        {
            "seq": seq,
            "job_id": record.get("job_id"),
            "root": root,
            "shards": [s["shard_id"] for s in shards],
            "records": records,
        }
    )


# -- format v1 (read-only) --------------------------------------------------------------------


def chain_hash(seq: int, prev_hash: str, body: str) -> str:
    """The record hash of format v1 (no domain tag, no key id)."""
    return hashlib.sha256(f"{seq}\n{prev_hash}\n{body}".encode()).hexdigest()


def _v1_mac(key: bytes, digest: str) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def _verify_v1(
    entries: Iterable[AuditEntry], keys: AuditKeyring, raw_head: bytes | None, check_head: bool
) -> VerifyResult:
    """Logs written before format v2 (read-only): one key, and a head that is neither bound
    to the log nor domain-separated, so truncation is never proven."""
    key = keys.active[1] if keys.active else None
    result = VerifyResult(True, 0, format="byom-audit/v1")
    hashes: dict[int, str] = {}
    try:
        expected, prev = 1, GENESIS
        for entry in entries:
            result.records += 1
            if entry.seq != expected:
                raise Failed(min(entry.seq, expected), f"record {expected} is missing or out of order")
            if entry.prev_hash != prev:
                raise Failed(entry.seq, "prev_hash does not match the previous record")
            if chain_hash(entry.seq, entry.prev_hash, entry.body) != entry.hash:
                raise Failed(entry.seq, "record content does not match its hash (edited)")
            if key is not None:
                if not hmac.compare_digest(_v1_mac(key, entry.hash), entry.mac or ""):
                    raise Failed(entry.seq, "MAC does not verify with the given key")
                result.records_mac_checked += 1
            prev = hashes[entry.seq] = entry.hash
            expected += 1
        head_seq = 0
        if check_head and raw_head is not None and raw_head.strip():
            try:
                head = json.loads(raw_head)
                head_seq = int(head["seq"])
            except (ValueError, KeyError, TypeError):
                raise Failed(0, "the v1 head file is not a checkpoint") from None
            if head_seq > expected - 1:
                raise Failed(expected, f"the log ends at {expected - 1} but the head says {head_seq} (truncated)")
            if head_seq and hashes.get(head_seq) != head.get("hash"):
                raise Failed(head_seq, "record differs from the head checkpoint")
            result.head_checked = True
    except Failed as failed:
        result.ok, result.first_bad_seq, result.reason = False, failed.seq, failed.reason
        return result
    result.macs_checked = key is not None
    result.unchecked.append("format v1: its head is not bound to the log, so truncation is not proven")
    if key is None:
        result.unchecked.append("record MACs: no key given")
    return result
