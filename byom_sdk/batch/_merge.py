"""Merging a job's per-worker audit chains under one Merkle root in the main log.

Each worker's audit log is a hash chain of its own (no lock shared across machines). When
the job ends the driver takes every shard log's head — ``(shard_id, log_id, size,
last_hash)``, sorted by shard id because the tree hash is order-sensitive — hashes them as
RFC 6962 leaves, and appends one ``batch_merge`` record holding the tree head (version,
``tree_hash``, timestamp in ms, tree size, root) and the leaves to the main log, whose MAC
signs it. ``byom audit verify`` on the main log then verifies every shard chain, checks
each still holds its merged head, and recomputes the root.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..trust._audit import SqliteAuditSink, SqliteSinkConfig
from ..trust._audit_read import shard_state
from ..trust._audit_verify import MERGE, merkle_root, shard_leaf

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["MERGE_VERSION", "RejectLog", "merge_shards"]

MERGE_VERSION = "byom-batch-merge/v1"


def _main_log_dir(client: Client) -> Path | None:
    path = getattr(client.trust.sink, "path", None)
    return Path(path).resolve().parent if path is not None else None


def merge_shards(client: Client, folders: list[Path], *, job_id: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """Append the ``batch_merge`` record of the shard logs in ``folders`` (this run's, and
    those of earlier runs of the same output that were killed before they merged) to
    ``client``'s audit log; returns what it recorded (``seq``, ``root``, ``shards``,
    ``records``)."""
    base = _main_log_dir(client)
    shards: list[dict[str, Any]] = []
    for path in sorted(p for folder in folders for p in folder.glob("*.sqlite")):
        state = shard_state(path)
        where = os.path.relpath(path.resolve(), base) if base is not None else str(path.resolve())
        shards.append({"shard_id": path.stem, "path": where, **state})
    shards.sort(key=lambda shard: str(shard["shard_id"]))
    root = merkle_root([shard_leaf(shard) for shard in shards]).hex()
    record = {
        "kind": MERGE,
        "v": 1,
        "job_id": job_id,
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "tree_head": {
            "version": MERGE_VERSION,
            "signature_type": "tree_hash",
            "timestamp": int(time.time() * 1000),
            "tree_size": len(shards),
            "sha256_root_hash": root,
        },
        "shards": shards,
        **dict(details),
    }
    entry = client.trust.append(record)
    return {
        "seq": entry.seq,
        "root": root,
        "shards": [s["shard_id"] for s in shards],
        "records": sum(int(s["size"]) for s in shards),
    }


class RejectLog:
    """The driver's own shard log: one ``batch_reject`` record per line answered without a
    call (malformed, duplicate, over the limit), so the audit accounts for every line.
    Opened on the first reject."""

    def __init__(self, policy: Mapping[str, Any], path: Path, job_id: str) -> None:
        self._policy = policy
        self.path = path
        self.job_id = job_id
        self._sink: SqliteAuditSink | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        if self._sink is None:
            audit = self._policy.get("audit", {})
            config = dict(audit.get("config") or {})
            self._sink = SqliteAuditSink(
                SqliteSinkConfig(path=self.path, hmac_key_env=audit.get("hmac_key_env", "BYOM_AUDIT_KEY"), **config)
            )
            self._sink.open()
        error = row.get("error") or {}
        self._sink.append(
            {
                "kind": "batch_reject",
                "job_id": self.job_id,
                "item": row.get("id"),
                "line": row.get("line"),
                "error_type": error.get("type"),
                "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            }
        )

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
