"""``byom batch run``: a JSONL file through a model, locally, on Ray or as cloud jobs.

::

    byom batch run --input in.jsonl --model bot --output out.jsonl [--runner local|ray|
                   sagemaker-transform|vertex-batch|...] [--concurrency N] [--rate-limit R]
    byom batch run --job job.toml [--runner ray]      # options on the command line win

Exit codes: 0 the job ran (records that failed are error rows, counted in the summary;
``--fail-on-errors`` makes them exit 1), 130 interrupted (rerun to resume), and the CLI's
usual codes for configuration (3), policy (4) and missing dependencies (5).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["batch"]


@click.group()
def batch() -> None:
    """Run JSONL records through a model: locally, on Ray, SageMaker or Vertex."""


@batch.command("run")
@click.option("--job", "job_file", type=click.Path(dir_okay=False, path_type=Path), help="A job file (TOML).")
@click.option("--input", "input_", type=click.Path(dir_okay=False, path_type=Path), help="Input JSONL.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Output JSONL (appended; resumes).")
@click.option("--model", help="The model alias (or route) of the byom.toml.")
@click.option(
    "--runner",
    help="Where it runs: local (default), ray, or a plugin's cloud runner (sagemaker-transform, vertex-batch).",
)
@click.option("--concurrency", type=int, help="Calls in flight, all workers together (default 16).")
@click.option("--rate-limit", type=float, help="Records started per second, all workers together.")
@click.option("--max-record-bytes", type=int, help="Longer input lines become PayloadTooLarge rows.")
@click.option("--workers", type=int, help="Ray actors (the [ray] workers option).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--fail-on-errors", is_flag=True, help="Exit 1 when any record got an error row.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def run(
    ctx: click.Context,
    job_file: Path | None,
    input_: Path | None,
    output: Path | None,
    model: str | None,
    runner: str | None,
    concurrency: int | None,
    rate_limit: float | None,
    max_record_bytes: int | None,
    workers: int | None,
    no_progress: bool,
    fail_on_errors: bool,
    as_json: bool,
) -> None:
    """Send every record of --input to --model and write one answer per id to --output.

    A rerun skips the ids already in the output. Bad lines (not JSON, duplicate ids, over
    --max-record-bytes) become error rows; the summary counts them by type.
    """
    from .._client import Client
    from ._driver import run_job
    from ._job import BatchJob, load_job_file

    overrides: dict[str, Any] = {
        "input": str(input_) if input_ else None,
        "output": str(output) if output else None,
        "model": model,
        "runner": runner,
        "concurrency": concurrency,
        "rate_limit": rate_limit,
        "max_record_bytes": max_record_bytes,
    }
    if no_progress or as_json:
        overrides["progress"] = False
    if job_file is not None:
        job = load_job_file(job_file, **overrides)
    else:
        missing = [f"--{name}" for name in ("input", "output", "model") if overrides[name] is None]
        if missing:
            raise click.UsageError(f"missing {', '.join(missing)} (or give --job)")
        job = BatchJob.build({k: v for k, v in overrides.items() if v is not None}, source="command line")
    if workers is not None:
        job = BatchJob.build({**job.model_dump(), "ray": {**job.ray.model_dump(), "workers": workers}})
    root = ctx.find_root().obj
    config = str(job.config) if job.config is not None else getattr(root, "config", "byom.toml")
    with Client.from_config(config, only=[job.model]) as client:
        try:
            summary = run_job(client, job)
        except ImportError as exc:
            if job.runner != "ray":
                raise
            from ..cli._output import MissingExtra

            raise MissingExtra(str(exc), extra="ray", package="byom-sdk") from exc
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    else:
        from rich.console import Console

        summary.render(Console())
    if summary.interrupted:
        sys.exit(130)
    if fail_on_errors and summary.errors:
        sys.exit(1)
