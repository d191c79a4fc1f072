"""Format v2 of the audit log: canonical bodies, domain-separated hashes and MACs, the
log header (``meta``) and the checkpoint kept in ``<db>.head``.

Every hash and MAC input starts with its own ``byom-audit/v2/...`` tag, so a value made for
one purpose (a record MAC, say) can never be replayed as another (a checkpoint MAC): that
replay is how a truncated v1 log passed ``verify`` with the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "CHECKPOINT_FORMAT",
    "FORMAT",
    "HEAD_SIZE",
    "MAX_DEPTH",
    "NO_KEY",
    "ROTATION",
    "SCHEMA",
    "AuditEntry",
    "Checkpoint",
    "DuplicateKey",
    "LogMeta",
    "canonical_json",
    "checkpoint_mac",
    "head_path",
    "is_key_id",
    "key_id",
    "record_hash",
    "record_mac",
    "rotation_target",
    "unique_keys",
    "utc_now",
]

FORMAT = "byom-audit/v2"
CHECKPOINT_FORMAT = "byom-audit/v2/checkpoint"
#: The key id of a log, record or checkpoint written without a key.
NO_KEY = "none"
#: Record kind written by the sink itself when the log moves to a new key.
ROTATION = "rotation"

_RECORD = b"byom-audit/v2/record\x00"
_RECORD_MAC = b"byom-audit/v2/record-mac\x00"
_CHECKPOINT = b"byom-audit/v2/checkpoint\x00"
_GENESIS = b"byom-audit/v2/genesis\x00"
_KEY_ID = b"byom-audit/v2/key-id"

#: The database's schema, exactly as the writer creates it: a log whose tables were rebuilt
#: otherwise (an ``ON CONFLICT REPLACE`` constraint deletes an earlier row on each insert, a
#: typeless ``seq`` reorders) is refused by writers and reported by ``verify``.
SCHEMA = (
    "CREATE TABLE records (seq INTEGER PRIMARY KEY, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,"
    " kid TEXT NOT NULL, mac TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

#: Deepest nesting canonical JSON accepts: orjson's own limit, so both encoders agree, and
#: far below what ``json.loads`` in a verifier can read back (a record the writer accepted
#: at depth ~990 made every later ``verify`` of the log die with RecursionError).
MAX_DEPTH = 254

#: The head file is one fixed-size block overwritten in place (see ``SqliteAuditSink``).
HEAD_SIZE = 512
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KID = re.compile(r"[0-9a-f]{16}")


# One encoder for every call: json.dumps with these options builds a new one each time
# (2 of its 6.5 µs for an outcome record, and a call encodes four documents).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

_orjson_dumps: Any = None  # orjson.dumps once looked up; False when orjson is not installed
_orjson_sorted = 0  # orjson.OPT_SORT_KEYS
_isfinite = math.isfinite


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what orjson writes exactly as the stdlib encoder does:
    str, int, bool, None, dicts, lists and tuples, and finite floats that repr() writes
    without an exponent (orjson writes 3.3e-7 where json writes 3.3e-07)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return _isfinite(value) and (value == 0.0 or 1e-4 <= abs(value) < 1e16)
    if kind is dict:
        for item in value.values():  # noqa: SIM110 - all() over a generator costs 2x per record
            if not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:  # noqa: SIM110 - as above
            if not _plain(item):
                return False
        return True
    return False


def _load_orjson() -> Any:
    global _orjson_dumps, _orjson_sorted
    try:
        import orjson
    except ImportError:  # an optional speed-up: the stdlib encoder does the same job
        _orjson_dumps = False
    else:
        _orjson_sorted = orjson.OPT_SORT_KEYS
        _orjson_dumps = orjson.dumps
    return _orjson_dumps


def canonical_json(value: Any) -> str:
    """The one serialization that is hashed: sorted keys, compact, UTF-8, no NaN.

    The stdlib encoder defines the form. orjson writes the same text for plain values
    (see :func:`_plain`) in a tenth of the time — an outcome record is 1 µs instead of
    10 µs, and a call writes two — so those go through it; anything else (a NaN, which is
    refused, a float written with an exponent, an int beyond 64 bits, a non-string key, a
    subclass) goes to the stdlib encoder, whose output and errors are the contract.
    """
    dumps = _orjson_dumps
    if dumps is None:
        dumps = _load_orjson()
    try:
        plain = bool(dumps) and _plain(value)
    except RecursionError:  # a value that contains itself: the stdlib names the cycle
        plain = False
    if plain:
        try:
            text: str = dumps(value, option=_orjson_sorted).decode()
        except TypeError:  # a non-string key or an int beyond 64 bits: the stdlib decides
            pass
        else:
            return text
    try:
        text = _CANONICAL.encode(value)
    except RecursionError:
        raise ValueError(f"it nests deeper than {MAX_DEPTH} levels") from None
    # orjson refuses what nests too deep, so only this path can meet such a value; after a
    # successful encode it has no cycle, so the walk ends.
    if _deeper_than(value, MAX_DEPTH):
        raise ValueError(f"it nests deeper than {MAX_DEPTH} levels")
    return text


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def key_id(key: bytes) -> str:
    """The public id of an audit key: 8 bytes of a MAC under the key, never a hash of it."""
    return hmac.new(key, _KEY_ID, hashlib.sha256).hexdigest()[:16]


def is_key_id(value: object) -> bool:
    return isinstance(value, str) and (value == NO_KEY or _KID.fullmatch(value) is not None)


def record_hash(seq: int, prev_hash: str, kid: str, body: str) -> str:
    """The chained hash of record ``seq``; it covers the key id the record claims and the
    whole body (``time`` included)."""
    data = b"".join(
        (_RECORD, seq.to_bytes(8, "big"), bytes.fromhex(prev_hash), kid.encode("ascii"), b"\x00", body.encode())
    )
    return hashlib.sha256(data).hexdigest()


def record_mac(key: bytes | None, digest: str) -> str:
    """The MAC of a record hash (empty without a key)."""
    if not key:
        return ""
    return hmac.new(key, _RECORD_MAC + bytes.fromhex(digest), hashlib.sha256).hexdigest()


def checkpoint_mac(key: bytes | None, fields: Mapping[str, Any] | str) -> str:
    """The MAC of a checkpoint's fields, or of their canonical JSON (empty without a key)."""
    if not key:
        return ""
    text = fields if isinstance(fields, str) else canonical_json(dict(fields))
    return hmac.new(key, _CHECKPOINT + text.encode(), hashlib.sha256).hexdigest()


def head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


@dataclass(frozen=True)
class LogMeta:
    """The log header, stored in the ``meta`` table when the log is created.

    Its canonical form is hashed into the genesis value (``prev_hash`` of record 1 and
    ``last_hash`` of an empty log's checkpoint), so editing it breaks the chain.
    """

    log_id: str
    created: str
    kid: str
    format: str = FORMAT

    @classmethod
    def new(cls, kid: str) -> LogMeta:
        return cls(log_id=str(uuid.uuid4()), created=utc_now(), kid=kid)

    @classmethod
    def parse(cls, rows: Mapping[str, str]) -> LogMeta:
        """From the ``meta`` table's rows; ``ValueError`` when a field is missing or odd."""
        missing = [name for name in ("log_id", "created", "kid", "format") if name not in rows]
        if missing:
            raise ValueError(f"the meta table lacks {', '.join(missing)}")
        if rows["format"] != FORMAT:
            raise ValueError(f"unknown log format {rows['format']!r} (this version reads {FORMAT})")
        if not is_key_id(rows["kid"]):
            raise ValueError(f"the meta table's key id {rows['kid']!r} is not a key id")
        return cls(log_id=rows["log_id"], created=rows["created"], kid=rows["kid"], format=rows["format"])

    def as_dict(self) -> dict[str, str]:
        return {"log_id": self.log_id, "created": self.created, "kid": self.kid, "format": self.format}

    @property
    def genesis(self) -> str:
        return hashlib.sha256(_GENESIS + canonical_json(self.as_dict()).encode()).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """A stored record with its chain fields (``kid``: the key id its MAC is under)."""

    seq: int
    prev_hash: str
    hash: str
    mac: str
    body: str
    kid: str = NO_KEY

    @property
    def record(self) -> dict[str, Any]:
        """The body as a record; ``ValueError`` when it is not a JSON object (an edited log)."""
        try:
            parsed = json.loads(self.body)
        except RecursionError:
            raise ValueError(f"record {self.seq}: the body nests too deeply") from None
        if not isinstance(parsed, dict):
            raise ValueError(f"record {self.seq}: the body is not a JSON object")
        return parsed

    def as_dict(self) -> dict[str, Any]:
        chain = {"seq": self.seq, "prev_hash": self.prev_hash, "hash": self.hash, "kid": self.kid, "mac": self.mac}
        return {**chain, **self.record}


def rotation_target(body: str) -> str | None:
    """The new key id when ``body`` is a rotation record, else ``None``."""
    # Cheap pre-check: canonical JSON escapes quotes inside strings, so this byte sequence
    # only appears as a real key/value pair (possibly nested, hence the parse).
    if '"kind":"rotation"' not in body:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict) or parsed.get("kind") != ROTATION:
        return None
    target = parsed.get("to_kid")
    return target if isinstance(target, str) else ""


class DuplicateKey(Exception):
    """A JSON object names a key twice (its ``args[0]``: the key, quoted)."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` refusing a key twice: json.loads keeps the last of two equal
    keys, other readers the first, so a head's ``"size"`` or a keyring's ``"active"`` twice
    would mean one thing here and another to a witness or a monitor."""
    found = dict(pairs)
    if len(found) != len(pairs):
        names = [name for name, _ in pairs]
        raise DuplicateKey(repr(next(name for name in names if names.count(name) > 1)))
    return found


def _block(data: bytes) -> bytes:
    if len(data) >= HEAD_SIZE:
        raise ValueError("checkpoint larger than the head block")
    return data.ljust(HEAD_SIZE - 1, b" ") + b"\n"


@dataclass(frozen=True)
class Checkpoint:
    """What ``<db>.head`` holds: the log's id, size and last hash, under a MAC.

    Signed-note-like (C2SP tlog-checkpoint): ``kid`` names the key the MAC is under.
    """

    log_id: str
    size: int
    last_hash: str
    kid: str
    time: str
    mac: str
    format: str = CHECKPOINT_FORMAT

    @classmethod
    def make(cls, log_id: str, size: int, last_hash: str, kid: str, key: bytes | None) -> Checkpoint:
        unsigned = cls(log_id, size, last_hash, kid, utc_now(), "")
        return cls(log_id, size, last_hash, kid, unsigned.time, checkpoint_mac(key, unsigned.fields()))

    @classmethod
    def make_block(cls, log_id: str, size: int, last_hash: str, kid: str, key: bytes | None) -> bytes:
        """``make(...).encode()`` with one JSON encoding instead of three (the append path)."""
        text = canonical_json(
            {
                "format": CHECKPOINT_FORMAT,
                "kid": kid,
                "last_hash": last_hash,
                "log_id": log_id,
                "size": size,
                "time": utc_now(),
            }
        )
        # The file need not be canonical (parse reads any key order), only the MAC input.
        return _block(f'{text[:-1]},"mac":"{checkpoint_mac(key, text)}"}}'.encode())

    def fields(self) -> dict[str, Any]:
        """What the MAC covers (everything but the MAC)."""
        return {
            "format": self.format,
            "kid": self.kid,
            "last_hash": self.last_hash,
            "log_id": self.log_id,
            "size": self.size,
            "time": self.time,
        }

    def mac_ok(self, key: bytes) -> bool:
        return hmac.compare_digest(checkpoint_mac(key, self.fields()), self.mac)

    def encode(self) -> bytes:
        return _block(canonical_json({**self.fields(), "mac": self.mac}).encode())

    @classmethod
    def parse(cls, data: bytes) -> Checkpoint | None:
        """A checkpoint from the head file's bytes; ``None`` when the file is empty;
        ``ValueError`` when it is not a checkpoint."""
        text = data.replace(b"\x00", b"").strip()
        if not text:
            return None
        try:
            raw = json.loads(text.decode("utf-8"), object_pairs_hook=unique_keys)
        except DuplicateKey as dup:
            raise ValueError(f"it holds {dup} twice") from None
        except (UnicodeDecodeError, ValueError):
            raise ValueError("it is not JSON") from None
        if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f'it has no "format": "{CHECKPOINT_FORMAT}"')
        expected = {"format", "kid", "last_hash", "log_id", "size", "time", "mac"}
        if set(raw) != expected:
            raise ValueError(f"its fields are {sorted(raw)}, expected {sorted(expected)}")
        size = raw["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("its size is not a non-negative integer")
        if not isinstance(raw["last_hash"], str) or not _HEX64.fullmatch(raw["last_hash"]):
            raise ValueError("its last_hash is not a SHA-256 hex digest")
        if not is_key_id(raw["kid"]):
            raise ValueError("its kid is not a key id")
        for name in ("log_id", "time", "mac"):
            if not isinstance(raw[name], str):
                raise ValueError(f"its {name} is not a string")
        return cls(raw["log_id"], size, raw["last_hash"], raw["kid"], raw["time"], raw["mac"], raw["format"])
