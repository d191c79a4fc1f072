"""The Ray runner: Ray Data ``map_batches`` over an actor pool; each actor keeps its Client,
models and detectors warm and writes an audit shard of its own.

The driver validates and spools the records (bad lines are answered there, done ids
skipped) into JSONL parts, which Ray Data reads as a stream (``read_text``); each actor
builds its Client once (``__init__``), sends its batch's records with the same per-record
code as the local runner (``concurrency / workers`` in flight per actor), and returns one
JSON output row per record. Ray does not keep order, so rows are written as they arrive,
keyed by id; a batch Ray re-runs after its actor died answers its ids twice, and the
writer keeps the first answer. Pseudonyms depend only on the key, so they do not depend
on which actor (or how many) masked a record.

Ray's traps, handled here: an actor pool that reserves every CPU starves the read tasks
and the job hangs (actors reserve ``(CPUs - 1) / workers`` by default); boto3 and GCS
clients cannot be pickled (workers build them in ``__init__``); a remote cluster cannot
read the driver's temp folder (set ``[ray] spool_dir`` to shared storage there).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ByomError
from ._item import arun_item
from ._job import RayOptions
from ._local import RateLimiter
from ._records import Item
from ._worker import WorkerSpec, new_shard_id

if TYPE_CHECKING:
    from ._driver import Emit, RunContext

__all__ = ["RayWorker", "run_ray"]


class RayWorker:
    """One actor of the pool: a warm Client and model; one audit shard per incarnation
    (an actor Ray restarts after a crash starts a new shard; the old one keeps what was
    committed)."""

    def __init__(self, spec: WorkerSpec, job_id: str, concurrency: int, rate: float | None) -> None:
        self.shard_id = new_shard_id("ray")
        self.client = spec.client(self.shard_id)
        self.model = self.client.model(spec.alias)
        self.job_id = job_id
        self.concurrency = concurrency
        self.limiter = RateLimiter(rate)
        self.loop = asyncio.new_event_loop()

    async def _run(self, items: list[Item]) -> list[dict[str, Any]]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: Item) -> dict[str, Any]:
            async with gate:
                await self.limiter.wait()
                return await arun_item(self.model, item, self.job_id)

        return list(await asyncio.gather(*(one(item) for item in items)))

    def __call__(self, batch: Any) -> dict[str, list[str]]:
        lines = batch["text"]
        texts = lines.to_pylist() if hasattr(lines, "to_pylist") else list(lines)
        rows = self.loop.run_until_complete(self._run([Item.from_json(text) for text in texts]))
        # ASCII: Arrow refuses a str with a lone surrogate, which would fail the whole batch.
        return {"row": [json.dumps(row, ensure_ascii=True, separators=(",", ":")) for row in rows]}


def _spool(items: Iterator[Item], folder: Path, per_part: int) -> list[str]:
    parts: list[str] = []
    stream = None
    count = 0
    try:
        for item in items:
            if stream is None or count == per_part:
                if stream is not None:
                    stream.close()
                path = folder / f"part-{len(parts):06d}.jsonl"
                parts.append(str(path))
                stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed here, a part at a time
                count = 0
            stream.write(item.to_json() + "\n")
            count += 1
    finally:
        if stream is not None:
            stream.close()
    return parts


def _quiet(ray_data: Any) -> None:
    context = ray_data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_operator_progress_bars = False
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    for name in ("ray.data", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _run(context: RunContext, items: Iterator[Item], emit: Emit) -> None:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ImportError(f"the ray runner needs Ray Data: pip install 'byom-sdk[ray]' ({exc})") from exc
    job = context.job
    options: RayOptions = job.ray
    parent = options.spool_dir
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    spool = Path(tempfile.mkdtemp(prefix=f"byom-batch-{context.job_id}-", dir=parent))
    started = False
    try:
        parts = _spool(items, spool, options.spool_lines)
        if not parts:
            return
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(
                address=options.address,
                num_cpus=options.num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            started = True
        _quiet(ray.data)
        workers = options.workers
        cpus = options.num_cpus_per_worker
        if cpus is None:
            total = float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]
            cpus = max(0.05, min(1.0, (total - 1.0) / workers)) if total > 1 else 0.5 / workers
        dataset = ray.data.read_text(parts).map_batches(
            RayWorker,
            fn_constructor_kwargs={
                "spec": context.spec,
                "job_id": context.job_id,
                "concurrency": max(1, math.ceil(job.concurrency / workers)),
                "rate": job.rate_limit / workers if job.rate_limit else None,
            },
            batch_size=options.batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=cpus,
        )
        try:
            batches: Iterable[Any] = dataset.iter_batches(batch_size=None, batch_format="pyarrow")
            for batch in batches:
                for text in batch.column("row").to_pylist():
                    emit(json.loads(text))
        except ByomError:
            raise
        except Exception as exc:
            raise ByomError(f"the Ray job failed: {type(exc).__name__}: {str(exc)[:2000]}") from exc
    finally:
        shutil.rmtree(spool, ignore_errors=True)
        if started:
            ray.shutdown()


def _run_quietly(context: RunContext, items: Iterator[Item], emit: Emit) -> None:
    with warnings.catch_warnings():
        # Ray Data 2.60 warns about its own deprecated settings when it builds a context.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")
        _run(context, items, emit)


async def run_ray(context: RunContext, items: Iterator[Item], emit: Emit) -> None:
    """Run the job on Ray; the driver's event loop stays free (Ray's driver API blocks)."""
    await asyncio.to_thread(_run_quietly, context, items, emit)
