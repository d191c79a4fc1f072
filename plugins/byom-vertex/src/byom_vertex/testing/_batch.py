"""Offline Vertex AI batch prediction: a JobService that runs BatchPredictionJobs for real
against Cloud Storage (gcp-storage-emulator) and a container personality.

Vertex has no batch emulator, so tests of a batch flow need one that behaves like the
service:

- :class:`LocalGCS`: gcp-storage-emulator on an ephemeral port, storing objects in a folder
  (:meth:`~LocalGCS.stored` reads every byte the bucket ever received, deleted objects
  included, for grepping).
- :class:`LocalBatchPredictionService`: gRPC ``google.cloud.aiplatform.v1.JobService``
  (``CreateBatchPredictionJob``, ``GetBatchPredictionJob``, ``CancelBatchPredictionJob``)
  served with aiplatform's own proto classes, so the real ``JobServiceClient`` talks to it.
  A job reads its JSONL instances from Cloud Storage, drops the ``key_field`` from each
  instance, sends ``{"instances": [...], "parameters": model_parameters}`` in groups of
  ``batch_size`` to the model's container personality (:mod:`._containers`), and writes
  ``prediction-<model>-<time>/predictions_00001.jsonl`` (``{"key", "prediction"}``) and
  ``errors_00001.jsonl`` (``{"key", "error": {"code", "message"}}``) under the output
  prefix, with ``output_info`` and ``completion_stats`` set, as the service does.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from ._containers import Container

__all__ = ["LocalBatchPredictionService", "LocalGCS"]


class LocalGCS:
    """gcp-storage-emulator on 127.0.0.1 with its objects in ``data_dir`` (a temp folder by
    default). The emulator's server thread is not a daemon: use ``with`` or ``stop()``.

    :param buckets: buckets created at start.
    """

    def __init__(self, *buckets: str, data_dir: str | Path | None = None, project: str = "test-project") -> None:
        self.buckets = buckets or ("byom-batch",)
        self.project = project
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="byom-gcs-")
            data_dir = self._tmp.name
        self.data_dir = Path(data_dir)
        self._server: Any = None
        self.url = ""

    def start(self) -> LocalGCS:
        if self._server is not None:
            return self
        from gcp_storage_emulator.server import create_server  # type: ignore[import-untyped]

        server = create_server(
            "127.0.0.1", 0, in_memory=False, default_bucket=self.buckets[0], data_dir=str(self.data_dir)
        )
        server.start()
        self._server = server
        self.url = f"http://127.0.0.1:{server._api._httpd.server_address[1]}"
        client = self.client()
        for name in self.buckets[1:]:
            client.create_bucket(name)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalGCS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def client(self) -> Any:
        import importlib

        from google.auth.credentials import AnonymousCredentials

        storage: Any = importlib.import_module("google.cloud.storage")
        return storage.Client(
            project=self.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.url},
        )

    def stored(self) -> Iterator[tuple[str, bytes]]:
        """``(path, bytes)`` of every file the emulator keeps (soft-deleted objects too)."""
        for path in sorted(self.data_dir.rglob("*")):
            if path.is_file():
                yield str(path.relative_to(self.data_dir)), path.read_bytes()


class _Job:
    def __init__(self, name: str, job: Any) -> None:
        self.name = name
        self.job = job
        self.cancel = threading.Event()


class LocalBatchPredictionService:
    """``JobService`` for batch prediction on 127.0.0.1 (gRPC, plaintext).

    :param gcs_endpoint_url: the Cloud Storage the jobs read and write (a :class:`LocalGCS`).
    :param project: / :param location: the project and location jobs are created in.
    """

    def __init__(self, gcs_endpoint_url: str, *, project: str = "test-project", location: str = "us-central1") -> None:
        self.gcs_endpoint_url = gcs_endpoint_url
        self.project, self.location = project, location
        self.models: dict[str, Container] = {}
        self.jobs: dict[str, _Job] = {}
        #: every body sent to a container, as JSON text (what "the endpoint received").
        self.sent: list[str] = []
        #: ``(method, request)`` of every JobService call.
        self.calls: list[tuple[str, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: Any = None
        self.port: int | None = None

    def add_model(self, model: str, container: Container) -> str:
        """Serve registry model ``model`` (an id or a full resource name) with ``container``;
        returns the resource name."""
        resource = (
            model
            if model.startswith("projects/")
            else (f"projects/{self.project}/locations/{self.location}/models/{model}")
        )
        self.models[resource] = container
        return resource

    @property
    def target(self) -> str:
        """``host:port`` for ``api_endpoint`` (with ``insecure = true``)."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> LocalBatchPredictionService:
        if self._server is not None:
            return self
        import grpc
        from google.cloud.aiplatform_v1.types import batch_prediction_job as bpj
        from google.cloud.aiplatform_v1.types import job_service as js
        from google.protobuf import empty_pb2

        def create(request: Any, context: Any) -> Any:
            self.calls.append(("CreateBatchPredictionJob", request))
            try:
                return self._create(request)
            except ValueError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

        def get(request: Any, context: Any) -> Any:
            self.calls.append(("GetBatchPredictionJob", request))
            found = self.jobs.get(request.name)
            if found is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"BatchPredictionJob {request.name} not found")
                raise AssertionError("abort raises")
            return bpj.BatchPredictionJob.wrap(found.job._pb)

        def cancel(request: Any, context: Any) -> Any:
            self.calls.append(("CancelBatchPredictionJob", request))
            found = self.jobs.get(request.name)
            if found is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"BatchPredictionJob {request.name} not found")
                raise AssertionError("abort raises")
            found.cancel.set()
            return empty_pb2.Empty()

        handler = grpc.method_handlers_generic_handler(
            "google.cloud.aiplatform.v1.JobService",
            {
                "CreateBatchPredictionJob": grpc.unary_unary_rpc_method_handler(
                    create,
                    request_deserializer=js.CreateBatchPredictionJobRequest.deserialize,
                    response_serializer=bpj.BatchPredictionJob.serialize,
                ),
                "GetBatchPredictionJob": grpc.unary_unary_rpc_method_handler(
                    get,
                    request_deserializer=js.GetBatchPredictionJobRequest.deserialize,
                    response_serializer=bpj.BatchPredictionJob.serialize,
                ),
                "CancelBatchPredictionJob": grpc.unary_unary_rpc_method_handler(
                    cancel,
                    request_deserializer=js.CancelBatchPredictionJobRequest.deserialize,
                    response_serializer=empty_pb2.Empty.SerializeToString,
                ),
            },
        )
        server = grpc.server(ThreadPoolExecutor(max_workers=8, thread_name_prefix="local-vertex-jobs"))
        server.add_generic_rpc_handlers((handler,))
        self.port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel.set()
        if self._server is not None:
            self._server.stop(grace=None).wait(5)
            self._server = None

    def __enter__(self) -> LocalBatchPredictionService:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- jobs ----------------------------------------------------------------------------------

    def _create(self, request: Any) -> Any:
        from google.cloud.aiplatform_v1.types import BatchPredictionJob, JobState

        job = BatchPredictionJob.wrap(type(request.batch_prediction_job._pb)())
        job._pb.CopyFrom(request.batch_prediction_job._pb)
        if job.model not in self.models:
            raise ValueError(f"Model {job.model} not found")
        if job.input_config.instances_format != "jsonl":
            raise ValueError("this local service reads instances_format 'jsonl' only")
        name = f"{request.parent}/batchPredictionJobs/{next(self._ids)}"
        job.name = name
        job.state = JobState.JOB_STATE_PENDING
        job.create_time = datetime.now(timezone.utc)
        entry = _Job(name, job)
        with self._lock:
            self.jobs[name] = entry
        threading.Thread(target=self._execute, args=(entry,), daemon=True, name=f"batch-{name}").start()
        return BatchPredictionJob.wrap(job._pb)

    def _storage(self) -> Any:
        import importlib

        from google.auth.credentials import AnonymousCredentials

        storage: Any = importlib.import_module("google.cloud.storage")
        return storage.Client(
            project=self.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.gcs_endpoint_url},
        )

    def _execute(self, entry: _Job) -> None:
        from google.cloud.aiplatform_v1.types import JobState

        job = entry.job
        job.state = JobState.JOB_STATE_RUNNING
        job.start_time = datetime.now(timezone.utc)
        try:
            ok, failed = self._run(entry)
        except Exception as exc:  # noqa: BLE001 - the job fails with its reason, as the service's do
            job.error.code = 13
            job.error.message = f"{type(exc).__name__}: {exc}"
            job.state = JobState.JOB_STATE_FAILED
        else:
            job.completion_stats.successful_count = ok
            job.completion_stats.failed_count = failed
            if entry.cancel.is_set():
                job.state = JobState.JOB_STATE_CANCELLED
            elif ok == 0 and failed:
                job.error.message = f"all {failed} instances failed"
                job.state = JobState.JOB_STATE_FAILED
            else:
                job.state = JobState.JOB_STATE_SUCCEEDED
        job.end_time = datetime.now(timezone.utc)

    def _run(self, entry: _Job) -> tuple[int, int]:
        from google.protobuf import json_format

        job = entry.job
        storage = self._storage()
        key_field = job.instance_config.key_field or None
        parameters = (
            json_format.MessageToDict(job._pb.model_parameters) if job._pb.HasField("model_parameters") else None
        )
        size = job.manual_batch_tuning_parameters.batch_size or 4
        container = self.models[job.model]
        instances: list[tuple[Any, Any]] = []
        for uri in job.input_config.gcs_source.uris:
            bucket, _, name = uri.removeprefix("gs://").partition("/")
            for raw in storage.bucket(bucket).blob(name).download_as_bytes().splitlines():
                if raw.strip():
                    instance = json.loads(raw)
                    key = instance.pop(key_field, None) if key_field and isinstance(instance, dict) else None
                    instances.append((key, instance))
        predictions: list[str] = []
        errors: list[str] = []
        for start in range(0, len(instances), size):
            if entry.cancel.is_set():
                break
            group = instances[start : start + size]
            body: dict[str, Any] = {"instances": [instance for _, instance in group]}
            if parameters is not None:
                body["parameters"] = parameters
            text = json.dumps(body)
            with self._lock:
                self.sent.append(text)
            try:
                found = container.predict(json.loads(text)).get("predictions")
                if not isinstance(found, list) or len(found) != len(group):
                    raise ValueError(f"the container returned {len(found or [])} predictions for {len(group)}")
            except Exception as exc:  # noqa: BLE001 - each instance of the group goes to the errors file
                error = {"code": 3, "message": f"{type(exc).__name__}: {exc}"}
                errors.extend(json.dumps(_keyed(key, instance, {"error": error})) for key, instance in group)
                continue
            predictions.extend(
                json.dumps(_keyed(key, instance, {"prediction": prediction}))
                for (key, instance), prediction in zip(group, found, strict=True)
            )
        stamp = datetime.now(timezone.utc).strftime("%Y_%m_%dT%H_%M_%S_%fZ")
        model = job.model.rsplit("/", 1)[-1]
        out_bucket, _, out_prefix = job.output_config.gcs_destination.output_uri_prefix.removeprefix("gs://").partition(
            "/"
        )
        directory = f"{out_prefix.rstrip('/')}/prediction-{model}-{stamp}"
        target = storage.bucket(out_bucket)
        target.blob(f"{directory}/predictions_00001.jsonl").upload_from_string("\n".join(predictions) + "\n")
        if errors:
            target.blob(f"{directory}/errors_00001.jsonl").upload_from_string("\n".join(errors) + "\n")
        job.output_info.gcs_output_directory = f"gs://{out_bucket}/{directory}"
        return len(predictions), len(errors)

    def wait(self, timeout: float = 30.0) -> None:
        """Wait until every job has ended (tests)."""
        deadline = time.monotonic() + timeout
        while any(j.job.state.name in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING") for j in self.jobs.values()):
            if time.monotonic() > deadline:
                raise TimeoutError("batch prediction jobs still running")
            time.sleep(0.01)


def _keyed(key: Any, instance: Any, extra: dict[str, Any]) -> dict[str, Any]:
    # With a key_field the output names the record by its key, without it by the instance.
    return {"key": key, **extra} if key is not None else {"instance": instance, **extra}
