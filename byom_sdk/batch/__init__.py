"""Batch and scale-out: one job, four runners, the online trust pipeline per record.

::

    summary = client.batch("tickets.jsonl", "answers.jsonl", model="support-bot", runner="ray")

    $ byom batch run --input tickets.jsonl --model support-bot --output answers.jsonl --runner ray

Runners: ``local`` (asyncio, the default), ``ray`` (Ray Data actor pools), and the cloud
runners plugins register through the ``byom_batch_runners`` hook: ``sagemaker-transform``
(SageMaker Batch Transform, byom-sagemaker), ``vertex-batch`` (Vertex AI
BatchPredictionJob, byom-vertex). Every record goes through a ``ManagedModel`` built by a Client in the
worker that sends it — masking (``masking.mode = "pseudonym"`` gives every worker the same
placeholders without a shared vault), the residency gate, scoring and the audit — and the
cloud runners encode records with the same codecs as online calls. See docs/batch.md.

Nothing here is imported by ``import byom_sdk``; Ray and the cloud SDKs load only when
their runner runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._driver import arun_job, run_job
    from ._job import BatchJob, RayOptions, load_job_file
    from ._records import Item, OutputWriter, read_records
    from ._staged import ShardAnswer, StagedBackend, StagedShard, parse_json_lines, preflight_targets
    from ._summary import BatchSummary

__all__ = [
    "BatchJob",
    "BatchSummary",
    "Item",
    "OutputWriter",
    "RayOptions",
    "ShardAnswer",
    "StagedBackend",
    "StagedShard",
    "arun_batch",
    "arun_job",
    "load_job_file",
    "parse_json_lines",
    "preflight_targets",
    "read_records",
    "run_batch",
    "run_job",
]

_LAZY = {
    "BatchJob": "._job",
    "RayOptions": "._job",
    "load_job_file": "._job",
    "BatchSummary": "._summary",
    "ShardAnswer": "._staged",
    "StagedBackend": "._staged",
    "StagedShard": "._staged",
    "parse_json_lines": "._staged",
    "preflight_targets": "._staged",
    "Item": "._records",
    "OutputWriter": "._records",
    "read_records": "._records",
    "arun_job": "._driver",
    "run_job": "._driver",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'byom_sdk.batch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def _make_job(client: Any, input: Any, output: Any, model: str, runner: str, options: dict[str, Any]) -> Any:
    from ._job import BatchJob

    values = {"input": input, "output": output, "model": model, "runner": runner, **options}
    return BatchJob.build(values, source="Client.batch", registry=getattr(client, "registry", None))


def run_batch(client: Any, input: Any, output: Any, *, model: str, runner: str = "local", **options: Any) -> Any:
    """Run a batch job with ``client``'s models and trust policy; returns its
    :class:`BatchSummary`. ``options`` are :class:`BatchJob` fields (``concurrency``,
    ``rate_limit``, ``ray={...}``, ``sagemaker_transform={...}``, …)."""
    from ._driver import run_job

    return run_job(client, _make_job(client, input, output, model, runner, options))


async def arun_batch(client: Any, input: Any, output: Any, *, model: str, runner: str = "local", **options: Any) -> Any:
    """Async twin of :func:`run_batch` (for code already inside an event loop)."""
    from ._driver import arun_job

    return await arun_job(client, _make_job(client, input, output, model, runner, options))
