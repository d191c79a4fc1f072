"""The driver of a batch job: the part every runner shares.

It opens the output (the keys already answered are skipped: a rerun resumes), reads the
input a line at a time, answers bad lines itself (error row + a ``batch_reject`` audit
record), hands the valid records to the runner, writes each answer as it comes (exactly
one row per key), shows progress, and when the runner is done — or interrupted — merges
the workers' audit chains into the main log and returns the summary.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ByomError, ConfigError
from .._validation import no_model_named
from ._job import BatchJob
from ._merge import RejectLog, merge_shards
from ._records import Item, OutputWriter, check_input, count_lines, read_records
from ._summary import BatchSummary
from ._worker import WorkerSpec, new_shard_id

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["RunContext", "arun_job", "run_job"]

Emit = Callable[[dict[str, Any]], None]
RunnerFn = Callable[["RunContext", Iterator[Item], Emit], Awaitable[None]]

# The built-in runners; every other name is a plugin's cloud runner (byom_batch_runners).
_RUNNERS = {"local": "byom_sdk.batch._local:run_local", "ray": "byom_sdk.batch._ray:run_ray"}
_STAGED = "byom_sdk.batch._staged:run_staged"


@dataclass
class RunContext:
    """What a runner gets: the main Client, the job, and where its workers audit."""

    client: Client
    job: BatchJob
    job_id: str
    shard_dir: Path
    spec: WorkerSpec
    summary: BatchSummary


def _runner(name: str) -> RunnerFn:
    module, _, attr = _RUNNERS.get(name, _STAGED).partition(":")
    runner: RunnerFn = getattr(importlib.import_module(module), attr)
    return runner


def _orphans(shard_dir: Path, output: str) -> list[Path]:
    """Shard folders of earlier runs of the same output that never merged (killed): the
    resumed run merges them, so their records are under a root too."""
    found = []
    for folder in sorted(shard_dir.parent.iterdir()):
        manifest = folder / "job.json"
        if folder == shard_dir or not manifest.is_file() or (folder / "merged").exists():
            continue
        try:
            if json.loads(manifest.read_text()).get("output") == output:
                found.append(folder)
        except (OSError, ValueError):
            continue
    return found


def _shard_dir(client: Client, job: BatchJob, job_id: str) -> Path:
    if job.audit_dir is not None:
        base = Path(job.audit_dir)
    else:
        path = getattr(client.trust.sink, "path", None)
        base = Path(path).resolve().parent if path is not None else Path.cwd()
    return base / "byom-batch" / job_id


class _Progress:
    """A rich progress bar on stderr (when asked for and stderr is a terminal)."""

    def __init__(self, job: BatchJob, summary: BatchSummary, total: int) -> None:
        self._bar: Any = None
        if not job.progress:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} rec/s  errors {task.fields[errors]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._summary = summary
        self._task = self._bar.add_task(
            f"batch {job.runner}", total=total, completed=summary.resumed, rate="-", errors=0
        )
        self._bar.start()

    def advance(self) -> None:
        if self._bar is not None:
            summary = self._summary
            summary.finish()
            self._bar.update(self._task, advance=1, rate=f"{summary.records_per_s:.0f}", errors=summary.errors)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


async def arun_job(client: Client, job: BatchJob, *, summary: BatchSummary | None = None) -> BatchSummary:
    """Run ``job`` with ``client``'s model configuration and trust policy (async).

    :raises ConfigError: an unknown model, or a runner that cannot serve it.
    """
    if job.model not in client.aliases and job.model not in client.routes:
        raise ConfigError(no_model_named(job.model, {*client.aliases, *client.routes}), source=client.source)
    if not Path(job.input).is_file():
        raise ConfigError(f"input file not found: {job.input}", field="input")
    check_input(job.input)
    answers = Path(job.output)
    if answers.is_dir():
        raise ConfigError(f"output {job.output} is a directory; name the answers file (JSONL)", field="output")
    if answers.exists() and answers.resolve() == Path(job.input).resolve():
        # Answers are appended to the output: reading and appending one file would read
        # the answers back as records (or "resume" with nothing to do).
        raise ConfigError(f"input and output are the same file ({job.output}); write answers elsewhere", field="output")
    job_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    summary = summary or BatchSummary(job_id=job_id, runner=job.runner, model=job.model)
    summary.job_id = job_id
    shard_dir = _shard_dir(client, job, job_id)
    spec = WorkerSpec.of(client, job.model, shard_dir, allow_instance=job.runner == "local")
    runner = _runner(job.runner)
    writer = OutputWriter(job.output)
    done = writer.open()
    summary.resumed = len(done)
    try:
        shard_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        writer.close()
        raise ConfigError(
            f"cannot create the batch's shard folder {shard_dir}: {exc.strerror or exc} (set audit_dir in the job)",
            field="audit_dir",
        ) from None
    output = str(Path(job.output).resolve())
    (shard_dir / "job.json").write_text(json.dumps({"job_id": job_id, "output": output, "model": job.model}))
    rejects = RejectLog(spec.policy, shard_dir / f"{new_shard_id('driver')}.sqlite", job_id)
    progress = _Progress(job, summary, count_lines(job.input))
    context = RunContext(client, job, job_id, shard_dir, spec, summary)

    def emit(row: dict[str, Any]) -> None:
        if writer.write(row):
            summary.add(row)
            progress.advance()
        else:
            summary.duplicates_dropped += 1

    def items() -> Iterator[Item]:
        for record in read_records(job.input, max_bytes=job.max_record_bytes, done=done):
            if isinstance(record, Item):
                yield record
            else:
                rejects.add(record)
                emit(record)

    try:
        await runner(context, items(), emit)
    except (asyncio.CancelledError, KeyboardInterrupt):
        summary.interrupted = True
        raise
    finally:
        progress.stop()
        writer.close()
        rejects.close()
        orphans = _orphans(shard_dir, output)
        details = {
            "model": job.model,
            "runner": job.runner,
            "items": {"ok": summary.ok, "errors": summary.errors, "resumed": summary.resumed},
            "interrupted": summary.interrupted,
            "adopted": [folder.name for folder in orphans],
        }
        if summary.audit.get("preflight"):  # a cloud runner's per-target residency decisions
            details["preflight"] = summary.audit["preflight"]
        try:
            summary.audit = merge_shards(client, [shard_dir, *orphans], job_id=job_id, details=details)
        except ByomError:
            if not summary.interrupted:
                raise
        else:
            for folder in (shard_dir, *orphans):
                (folder / "merged").write_text(f"{job_id} {summary.audit['seq']}\n")
        summary.finish()
    return summary


def run_job(client: Client, job: BatchJob) -> BatchSummary:
    """Run ``job`` (sync); an interrupted run returns its summary with ``interrupted``
    set, after merging what its workers audited: rerun to resume."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise ByomError("Client.batch() was called inside a running event loop: await byom_sdk.batch.arun_batch()")
    summary = BatchSummary(job_id="", runner=job.runner, model=job.model)
    try:
        return asyncio.run(arun_job(client, job, summary=summary))
    except KeyboardInterrupt:
        summary.interrupted = True
        return summary.finish()
