"""A batch job: what to read, which model, where answers go, and how it runs.

The same job runs on every runner; only ``runner`` and that runner's table change::

    # job.toml
    input = "tickets.jsonl"
    output = "answers.jsonl"
    model = "support-bot"          # an alias (or route) of the byom.toml
    config = "byom.toml"           # for `byom batch run --job job.toml`
    runner = "ray"                 # local | ray | a plugin's cloud runner (sagemaker-transform...)
    concurrency = 32               # calls in flight (all workers together)
    rate_limit = 200               # records per second, all workers together

    [ray]
    workers = 4

    [sagemaker_transform]
    bucket = "acme-batch-eu"

Paths are relative to the job file's folder. ``local`` and ``ray`` are built in; cloud
runners come from plugins (the ``byom_batch_runners`` hook: ``sagemaker-transform`` from
byom-sagemaker, ``vertex-batch`` from byom-vertex), each with a table of its own options.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._config import read_toml_file
from .._errors import ConfigError
from .._validation import describe_validation_error

if TYPE_CHECKING:
    from .._plugins import Registry

__all__ = ["BUILTIN_RUNNERS", "BatchJob", "RayOptions", "load_job_file"]

BUILTIN_RUNNERS: tuple[str, ...] = ("local", "ray")
# Where the cloud runners shipped with byom-sdk come from, for the error when one is missing.
_SHIPPED = {"sagemaker-transform": "byom-sagemaker", "vertex-batch": "byom-vertex"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RayOptions(_Strict):
    """The ``[ray]`` table.

    :param workers: actors in the pool; each keeps its Client, models and detectors warm.
    :param num_cpus_per_worker: CPUs Ray reserves per actor. Default: what leaves the read
        tasks a CPU (an actor pool that takes every CPU starves them and the job hangs).
    :param batch_size: records per actor call (the unit Ray retries when an actor dies).
    :param address: an existing cluster (``ray://…`` or ``auto``); default: a local one,
        started and stopped by the job.
    :param num_cpus: CPUs of the local cluster the job starts (default: all).
    :param spool_lines: records per spooled input part (Ray's read unit).
    :param spool_dir: where the driver spools validated records for Ray to read (default: a
        temp folder; on a remote cluster, storage every node mounts).
    """

    workers: int = Field(default=2, ge=1, le=1024)
    num_cpus_per_worker: float | None = Field(default=None, gt=0.0)
    batch_size: int = Field(default=64, ge=1, le=100_000)
    address: str | None = None
    num_cpus: int | None = Field(default=None, ge=1)
    spool_lines: int = Field(default=1_000, ge=1)
    spool_dir: Path | None = None


class BatchJob(_Strict):
    """One batch job (``byom batch run`` options, a job file, or ``Client.batch`` keywords).

    :param input: JSONL records: ``id`` and one of ``messages`` / ``prompt`` / ``texts``,
        optional ``parameters`` and ``metadata`` (see docs/batch.md).
    :param output: JSONL answers, one per id; appended to, so a rerun resumes.
    :param model: the alias (or route) every record is sent to.
    :param runner: ``local`` (asyncio, default), ``ray``, or a cloud runner a plugin
        registers (``sagemaker-transform``, ``vertex-batch``).
    :param config: the byom.toml (CLI and job files; ``Client.batch`` uses its Client).
    :param concurrency: calls in flight, all workers together.
    :param rate_limit: records started per second, all workers together (``None``: no limit).
    :param max_record_bytes: input lines longer than this become ``PayloadTooLarge`` rows.
    :param progress: show a progress bar (on a terminal).
    :param audit_dir: where the per-worker audit logs go (default: next to the main log).
    :param ray: the Ray runner's options (:class:`RayOptions`).
    :param tables: each cloud runner's options by runner name (the job file's
        ``[sagemaker_transform]`` table, ``Client.batch(..., vertex_batch={...})``); the
        runner's plugin validates its own.
    """

    input: Path
    output: Path
    model: str = Field(min_length=1)
    runner: str = Field(default="local", pattern=r"^[a-z][a-z0-9_-]*$")
    config: Path | None = None
    concurrency: int = Field(default=16, ge=1, le=100_000)
    rate_limit: float | None = Field(default=None, gt=0.0)
    max_record_bytes: int = Field(default=1_048_576, ge=64)
    progress: bool = True
    audit_dir: Path | None = None
    ray: RayOptions = Field(default_factory=RayOptions)
    tables: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def build(
        cls, values: Mapping[str, Any], *, source: str = "batch job", registry: Registry | None = None
    ) -> BatchJob:
        """Validate ``values``; errors become a ``ConfigError`` naming the field.

        A key named after a cloud runner of ``registry`` (default: the process-wide one),
        with ``-`` or ``_``, is that runner's table; any other unknown key is an error.
        """
        from .._plugins import get_registry

        registry = (registry or get_registry()).load()
        data = dict(values)
        given = data.pop("tables", None) or {}
        if not isinstance(given, dict):
            raise ConfigError(
                f"tables must be a table of runner tables, not {type(given).__name__}", source=source, field="tables"
            )
        tables = dict(given)
        for name in {*registry.batch_runners, *_SHIPPED}:
            for key in {name, name.replace("-", "_")}:
                if key in data:
                    tables[name] = data.pop(key)
        data["tables"] = tables
        try:
            job = cls.model_validate(data)
        except ValidationError as exc:
            field, message = describe_validation_error(exc)
            raise ConfigError(message, source=source, field=field) from None
        if job.runner not in BUILTIN_RUNNERS and job.runner not in registry.batch_runners:
            known = ", ".join([*BUILTIN_RUNNERS, *sorted(registry.batch_runners)])
            hint = f"; {job.runner} comes with {_SHIPPED[job.runner]}" if job.runner in _SHIPPED else ""
            raise ConfigError(f"no batch runner '{job.runner}' (known: {known}){hint}", source=source, field="runner")
        return job

    def runner_options(self) -> dict[str, Any]:
        """The table of this job's runner (empty for ``local``)."""
        if self.runner == "ray":
            return self.ray.model_dump()
        return dict(self.tables.get(self.runner, {}))


def load_job_file(path: str | Path, **overrides: Any) -> BatchJob:
    """Read a job file (TOML); relative paths resolve against its folder. ``overrides``
    (command-line options) win over the file."""
    path = Path(path)
    data = read_toml_file(path, kind="job file")
    base = path.resolve().parent
    for key in ("input", "output", "config", "audit_dir"):
        value = data.get(key)
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            data[key] = str(base / value)
    # Options given on the command line are relative to the working directory, like any.
    data.update({k: v for k, v in overrides.items() if v is not None})
    return BatchJob.build(data, source=str(path))
