"""Cloud batch runners (SageMaker Batch Transform, Vertex BatchPredictionJob): records
staged into shards, one cloud job per shard, answers joined back by key.

Each record still goes through the model's whole pipeline in this process — audit intent,
gate, masking, the codec the online model uses — but the pipeline's provider is a
:class:`StagedProvider`: its transport does not send the encoded body, it appends it to the
current shard's file (in the backend's line format, under an opaque key — never the record
id) and waits. When every record of the shard has been staged (or failed before it was),
the backend uploads the shard, runs one cloud job on it, downloads the output and hands
back each key's answer; the waiting calls then finish as online calls do: decoded by the
codec, placeholders restored, scored, audited. At most ``shard_size * jobs_in_flight``
records are in flight.

What leaves is exactly what the masking step produced: the storage bucket receives the
masked, encoded bodies, and nothing else of the records (ids stay here).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import ValidationError

from .._errors import BadRequest, ConfigError, ModelError, PolicyViolation, Unavailable
from .._validation import describe_validation_error
from ..wire import WireProvider
from ._item import arun_item
from ._local import RateLimiter, close_worker
from ._records import Item
from ._worker import new_shard_id

if TYPE_CHECKING:
    from .._types import Boundary, EmbedRequest, GenerateRequest, ModelInfo
    from ..wire import Codec
    from ._driver import Emit, RunContext

__all__ = [
    "ShardAnswer",
    "StagedBackend",
    "StagedProvider",
    "StagedShard",
    "StagedTransport",
    "parse_json_lines",
    "preflight_targets",
    "run_staged",
]


@dataclass
class StagedShard:
    """One shard: a local file of encoded lines (the backend's format) and its keys.

    :param state: the backend's own per-shard state (e.g. the parameters every line of a
        Vertex shard shares).
    """

    index: int
    path: Path
    keys: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"shard-{self.index:05d}"


@dataclass(frozen=True)
class ShardAnswer:
    """One key's result: the container's decoded JSON answer, or the error it got."""

    key: str
    answer: Any = None
    error: str | None = None
    code: str = "RecordFailed"


@runtime_checkable
class StagedBackend(Protocol):
    """A cloud batch service as the staged runner drives it (implemented by plugins)."""

    #: the runner name (``sagemaker-transform``), also the provider in audit records.
    name: str
    codec: Codec
    #: capabilities and the boundary gated per record (where the staged bodies go).
    info: ModelInfo
    max_payload_bytes: int
    shard_size: int
    jobs_in_flight: int

    def preflight(self, policy: Any) -> list[dict[str, str]]:
        """Check every service the job reaches against ``policy`` (the model's merged
        ``TrustPolicy``) before anything is uploaded; raise ``PolicyViolation``."""
        ...

    def encode(self, shard: StagedShard, key: str, body: Any) -> list[str]:
        """The shard-file lines of one encoded body (``ValueError``: cannot be batched)."""
        ...

    def run_shard(self, shard: StagedShard) -> list[ShardAnswer]:
        """Upload, run one job, download: each key's answer (blocking)."""
        ...

    def close(self) -> None: ...


@dataclass
class _Slot:
    wave: _Wave
    submitted: bool = False


_SLOT: contextvars.ContextVar[_Slot | None] = contextvars.ContextVar("byom_batch_slot", default=None)


class _Wave:
    """One shard being filled: ready once every record of it was staged or failed first."""

    def __init__(self, backend: StagedBackend, shard: StagedShard, expected: int) -> None:
        self.backend = backend
        self.shard = shard
        self.expected = expected
        self.futures: dict[str, asyncio.Future[Any]] = {}
        self.departed = 0
        self.sealed = False
        self.ready = asyncio.Event()
        self._stream: IO[str] | None = open(shard.path, "w", encoding="utf-8")  # noqa: SIM115 - sealed below

    def submit(self, body: Any) -> asyncio.Future[Any]:
        if self.sealed or self._stream is None:
            raise Unavailable(
                f"{self.backend.name}: {self.shard.name} was already submitted (a second send of one record, "
                "e.g. an emulated structured-output repair, cannot join it)",
                provider=self.backend.name,
                code="ShardSealed",
                retryable=False,
            )
        key = str(len(self.futures))
        try:
            lines = self.backend.encode(self.shard, key, body)
        except ValueError as exc:
            raise BadRequest(f"{self.backend.name}: {exc}", provider=self.backend.name, code="NotBatchable") from None
        size = sum(len(line.encode()) for line in lines)
        if size > self.backend.max_payload_bytes:
            raise BadRequest(
                f"{self.backend.name}: the encoded record is {size} bytes, over the job's payload limit of "
                f"{self.backend.max_payload_bytes}",
                provider=self.backend.name,
                code="PayloadTooLarge",
            )
        for line in lines:
            self._stream.write(line + "\n")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures[key] = future
        self.shard.keys.append(key)
        self._check()
        return future

    def depart(self) -> None:
        self.departed += 1
        self._check()

    def _check(self) -> None:
        if len(self.futures) + self.departed >= self.expected:
            self.ready.set()

    def seal(self) -> None:
        self.sealed = True
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def resolve(self, answers: list[ShardAnswer]) -> None:
        name = self.backend.name
        for answer in answers:
            future = self.futures.get(answer.key)
            if future is None or future.done():
                continue
            if answer.error is None:
                future.set_result(answer.answer)
            else:
                future.set_exception(
                    ModelError(f"{name}: {answer.error}", provider=name, code=answer.code, request_sent=True)
                )
        for future in self.futures.values():
            if not future.done():
                future.set_exception(
                    ModelError(
                        f"{name}: the job's output has no answer for this record",
                        provider=name,
                        code="NoOutput",
                        request_sent=True,
                    )
                )


class StagedTransport:
    """A transport that stages bodies into the current shard instead of sending them."""

    streams_records = False

    def __init__(self, backend: StagedBackend) -> None:
        self.backend = backend

    async def acall(self, operation: str, body: Any, request: GenerateRequest | EmbedRequest) -> Any:
        slot = _SLOT.get()
        if slot is None:
            raise Unavailable(
                f"{self.backend.name} serves batch jobs only (byom batch run / Client.batch)",
                provider=self.backend.name,
                retryable=False,
            )
        future = slot.wave.submit(body)
        slot.submitted = True
        return await future

    def call(self, operation: str, body: Any, request: GenerateRequest | EmbedRequest) -> Any:
        raise Unavailable(f"{self.backend.name} has no synchronous calls", provider=self.backend.name)

    def stream(self, body: Any, request: GenerateRequest) -> Iterator[Any]:
        raise Unavailable(f"{self.backend.name} does not stream", provider=self.backend.name)

    def astream(self, body: Any, request: GenerateRequest) -> Any:
        raise Unavailable(f"{self.backend.name} does not stream", provider=self.backend.name)

    async def aclose(self) -> None:
        return None

    def close(self) -> None:
        return None


class StagedProvider(WireProvider):
    """The model as a cloud batch job serves it: the online model's codec over a
    :class:`StagedTransport`, gated on where the staged bodies go."""

    def __init__(self, backend: StagedBackend) -> None:
        super().__init__(backend.info, backend.codec, StagedTransport(backend), where=f"{backend.name} job")
        self.backend = backend


def _backend(context: RunContext) -> StagedBackend:
    job, client = context.job, context.client
    spec = client.registry.batch_runner(job.runner)
    entry = client.entry(job.model)
    if entry is None or entry.provider != spec.provider:
        raise ConfigError(
            f"the {job.runner} runner needs a model of provider '{spec.provider}'; '{job.model}' is "
            f"{'a route or an instance' if entry is None else repr(entry.provider)}",
            source=client.source,
            field="model",
        )
    table = job.runner.replace("-", "_")
    try:
        options = spec.config_schema.model_validate(job.runner_options())
    except ValidationError as exc:
        field, message = describe_validation_error(exc, prefix=table)
        raise ConfigError(message, source=client.source, field=field) from None
    backend: StagedBackend = spec.factory(client.provider_config(job.model), options, job_id=context.job_id)
    return backend


async def _run_wave(wave: _Wave, items: list[Item], model: Any, job_id: str, limiter: RateLimiter, emit: Emit) -> None:
    async def one(item: Item) -> None:
        slot = _Slot(wave)
        _SLOT.set(slot)  # this task's own context (ensure_future copied it)
        try:
            await limiter.wait()
            row = await arun_item(model, item, job_id)
        finally:
            if not slot.submitted:
                wave.depart()
        emit(row)

    tasks = [asyncio.ensure_future(one(item)) for item in items]
    try:
        await wave.ready.wait()
        wave.seal()
        if wave.futures:
            answers = await asyncio.to_thread(wave.backend.run_shard, wave.shard)
        else:
            answers = []
        wave.resolve(answers)
    except BaseException as exc:
        for future in wave.futures.values():
            if not future.done():
                future.set_exception(
                    Unavailable(f"{wave.backend.name}: {type(exc).__name__}: {exc}", provider=wave.backend.name)
                )
        if not isinstance(exc, Exception):
            for task in tasks:
                task.cancel()
            raise
    finally:
        wave.seal()
    await asyncio.gather(*tasks)


async def run_staged(context: RunContext, items: Iterator[Item], emit: Emit) -> None:
    backend = _backend(context)
    spec = context.spec
    # One attempt: a staged record cannot be re-sent into a shard that has left.
    spec.retry = {**(spec.retry or {}), "max_attempts": 1}
    worker = spec.client(new_shard_id(backend.name), instance=StagedProvider(backend))
    spool = Path(tempfile.mkdtemp(prefix=f"byom-batch-{context.job_id}-"))
    limiter = RateLimiter(context.job.rate_limit)
    try:
        model = worker.model(context.job.model)
        policy = worker.trust.policy
        context.summary.audit["preflight"] = backend.preflight(policy) if worker.trust.enabled else []
        running: set[asyncio.Task[None]] = set()
        index = 0
        iterator = iter(items)
        while True:
            chunk = [item for _, item in zip(range(backend.shard_size), iterator, strict=False)]
            if not chunk:
                break
            while len(running) >= backend.jobs_in_flight:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                running -= done
                for task in done:
                    task.result()
            shard = StagedShard(index, spool / f"shard-{index:05d}.jsonl")
            wave = _Wave(backend, shard, len(chunk))
            running.add(asyncio.ensure_future(_run_wave(wave, chunk, model, context.job_id, limiter, emit)))
            index += 1
        if running:
            for outcome in await asyncio.gather(*running, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    raise outcome
    finally:
        await close_worker(worker, borrowed=False)
        backend.close()
        shutil.rmtree(spool, ignore_errors=True)


def parse_json_lines(data: bytes) -> Iterator[Mapping[str, Any]]:
    """Objects of a JSON-lines blob (blank lines skipped); backends parse outputs with it."""
    for raw in data.splitlines():
        if raw.strip():
            value = json.loads(raw)
            if isinstance(value, Mapping):
                yield value


def preflight_targets(runner: str, targets: list[tuple[str, Boundary]], policy: Any) -> list[dict[str, str]]:
    """Gate every service a cloud runner's job reaches (``(name, boundary)`` pairs: the job
    API, the staging bucket) against the model's ``policy``; the decisions, each with its
    target, for the job's audit record.

    :raises PolicyViolation: the first target the policy refuses, naming it and the rule.
    """
    from ..trust import check_boundary

    decisions: list[dict[str, str]] = []
    for target, boundary in targets:
        for decision in check_boundary(boundary, policy):
            decisions.append({"target": target, **decision.as_dict()})
            if decision.result == "violation":
                raise PolicyViolation(
                    f"{runner}: {target} refused by rule '{decision.rule}': {decision.detail}", rule=decision.rule
                )
    return decisions
