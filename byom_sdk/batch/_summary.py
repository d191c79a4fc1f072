"""The closing summary of a batch job: counts, tokens, errors by type, latency percentiles.

Latencies go into a log-bucketed histogram (2 % wide buckets), so the summary of a
hundred-million-record job takes the same few kilobytes as one of ten records; p50/p95
are read from it to within that width.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchSummary", "LatencyHistogram"]

_BASE_MS = 0.01
_RATIO = math.log(1.02)


class LatencyHistogram:
    """Latencies in milliseconds, in buckets 2 % wide; O(buckets) memory."""

    def __init__(self) -> None:
        self._buckets: Counter[int] = Counter()
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, ms: float) -> None:
        ms = max(ms, _BASE_MS)
        self._buckets[int(math.log(ms / _BASE_MS) / _RATIO)] += 1
        self.count += 1
        self.total += ms
        self.max = max(self.max, ms)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (the upper edge of its bucket, never above the maximum)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for bucket in sorted(self._buckets):
            seen += self._buckets[bucket]
            if seen >= rank:
                return min(self.max, _BASE_MS * math.exp((bucket + 1) * _RATIO))
        return self.max


@dataclass
class BatchSummary:
    """What one run of a batch job did (a rerun's summary covers that run only).

    :param job_id: this run's id (it names the audit shard folder and merge record).
    :param resumed: keys already in the output when the run started (skipped).
    :param ok: records answered.
    :param errors: records answered with an error row (bad input included).
    :param duplicates_dropped: answers for keys already written (a retried Ray batch).
    :param errors_by_type: error rows per error type.
    :param audit: the batch merge recorded in the main audit log (root, shards, seq).
    """

    job_id: str
    runner: str
    model: str
    resumed: int = 0
    ok: int = 0
    errors: int = 0
    duplicates_dropped: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    errors_by_type: Counter[str] = field(default_factory=Counter)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0
    audit: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def answered(self) -> int:
        return self.ok + self.errors

    def add(self, row: Mapping[str, Any]) -> None:
        """Count one written row."""
        error = row.get("error")
        if isinstance(error, Mapping):
            self.errors += 1
            self.errors_by_type[str(error.get("type", "Error"))] += 1
        else:
            self.ok += 1
            usage = (row.get("response") or {}).get("usage") or {}
            self.input_tokens += int(usage.get("input_tokens") or 0)
            self.output_tokens += int(usage.get("output_tokens") or 0)
        latency = row.get("latency_ms")
        if isinstance(latency, (int, float)):
            self.latency.add(float(latency))

    def finish(self) -> BatchSummary:
        self.elapsed_s = time.monotonic() - self.started
        return self

    @property
    def records_per_s(self) -> float:
        return self.answered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        p50, p95 = self.latency.quantile(0.50), self.latency.quantile(0.95)
        return {
            "job_id": self.job_id,
            "runner": self.runner,
            "model": self.model,
            "answered": self.answered,
            "ok": self.ok,
            "errors": self.errors,
            "errors_by_type": dict(sorted(self.errors_by_type.items())),
            "resumed": self.resumed,
            "duplicates_dropped": self.duplicates_dropped,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "latency_ms": {"p50": _round(p50), "p95": _round(p95), "max": _round(self.latency.max or None)},
            "elapsed_s": round(self.elapsed_s, 3),
            "records_per_s": round(self.records_per_s, 1),
            "interrupted": self.interrupted,
            "audit": dict(self.audit),
        }

    def render(self, console: Any) -> None:
        """Print the summary as a rich table on ``console``."""
        from rich.table import Table

        data = self.as_dict()
        table = Table(title=f"batch {self.job_id} ({self.runner}, model {self.model})", show_header=False)
        table.add_column(style="bold")
        table.add_column()
        table.add_row("answered", f"{data['answered']} ({data['ok']} ok, {data['errors']} errors)")
        if self.resumed:
            table.add_row("resumed", f"{self.resumed} already in the output (skipped)")
        if self.duplicates_dropped:
            table.add_row("duplicates dropped", str(self.duplicates_dropped))
        for name, count in data["errors_by_type"].items():
            table.add_row(f"  {name}", str(count))
        table.add_row("tokens", f"{self.input_tokens} in, {self.output_tokens} out")
        latency = data["latency_ms"]
        table.add_row("latency", f"p50 {latency['p50']} ms, p95 {latency['p95']} ms, max {latency['max']} ms")
        table.add_row("time", f"{data['elapsed_s']} s ({data['records_per_s']} records/s)")
        if self.audit:
            table.add_row(
                "audit",
                f"merge at seq {self.audit.get('seq')}: root {str(self.audit.get('root', ''))[:16]}… over "
                f"{len(self.audit.get('shards', ()))} shard log(s)",
            )
        if self.interrupted:
            table.add_row("status", "INTERRUPTED: rerun the same command to resume")
        console.print(table)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
