"""Shared by the batch tests: canary records, JSONL files, and reading answers back."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from byom_sdk.trust.testing import CANARIES, canary_text

AUDIT_KEY = "batch-tests-audit-key-0123456789"
PSEUDONYM_KEY = "batch-tests-pseudonym-key-0123456789"
#: the trust policy of the batch tests: loopback endpoints, keyed pseudonyms.
POLICY = {"allow_loopback": True, "masking": {"mode": "pseudonym"}}


def canary_records(n: int, *, start: int = 0) -> list[dict[str, Any]]:
    """``n`` prompt records, each holding every canary (and its own number)."""
    return [
        {"id": f"r{i}", "prompt": f"record {i}: {canary_text()}", "parameters": {"max_tokens": 400}}
        for i in range(start, start + n)
    ]


def write_jsonl(path: Path, records: Iterable[Any]) -> Path:
    with open(path, "w", encoding="utf-8") as stream:
        for record in records:
            stream.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def rows_by_id(path: Path) -> dict[str, dict[str, Any]]:
    """The output rows keyed by id; fails on any id answered twice."""
    rows = read_rows(path)
    counts = Counter(row["id"] for row in rows)
    twice = [key for key, n in counts.items() if n > 1]
    assert not twice, f"ids answered more than once: {twice[:10]}"
    return {row["id"]: row for row in rows}


def comparable(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows without what legitimately differs between runs (latency)."""
    out = {}
    for key, row in rows.items():
        row = dict(row)
        row.pop("latency_ms", None)
        if "error" in row:
            row["error"] = {k: v for k, v in row["error"].items() if k != "message"}
        out[key] = row
    return out


def assert_restored(rows: dict[str, dict[str, Any]]) -> None:
    """Every answer (an echo of its record) holds every canary value back."""
    for key, row in rows.items():
        text = row["response"]["text"]
        missing = [entity for entity, value in CANARIES.items() if value not in text]
        assert not missing, f"{key}: not restored: {missing}"
