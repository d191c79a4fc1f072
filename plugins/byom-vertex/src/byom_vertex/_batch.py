"""Vertex AI BatchPredictionJob as a byom batch runner (``runner = "vertex-batch"``).

Records, masked and encoded by the model's own codec (a ``predict`` codec: ``vllm``,
``tgi``, ``tei``, ``google-embeddings``), become instance lines of a JSONL file in Cloud
Storage, one line per instance of the codec's ``{"instances": [...]}`` body, keyed
``"<k>:<n>"`` (``k`` an opaque number, never the record id). The job runs with
``instance_config.key_field = "key"``, so the container receives each instance without its
key and the output lines carry it back; ``predictions_*.jsonl`` and ``errors_*.jsonl`` are
read, regrouped into one ``{"predictions": [...]}`` answer per record, and decoded by the
codec in the waiting call. A record with any instance in an errors file gets that error.

The job is created with the GAPIC ``JobServiceClient`` of google-cloud-aiplatform; the
storage is google-cloud-storage. ``[vertex_batch]`` options: see :class:`VertexBatchOptions`.
Tests run against gcp-storage-emulator and :class:`byom_vertex.testing.LocalBatchPredictionService`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from byom_sdk import Boundary, Capabilities, ConfigError, ModelInfo
from byom_sdk.batch import ShardAnswer, StagedShard, parse_json_lines, preflight_targets
from byom_sdk.trust.residency import is_loopback

from ._codecs import load_codec
from ._config import VertexBatchOptions, VertexConfig

__all__ = ["VertexBatchBackend"]

NAME = "vertex-batch"
_DONE = {
    "JOB_STATE_SUCCEEDED",
    "JOB_STATE_FAILED",
    "JOB_STATE_CANCELLED",
    "JOB_STATE_PARTIALLY_SUCCEEDED",
    "JOB_STATE_EXPIRED",
}


class VertexBatchBackend:
    """Runs staged shards as Vertex BatchPredictionJobs (see the module docstring)."""

    name = NAME

    def __init__(self, config: VertexConfig, options: VertexBatchOptions, *, job_id: str) -> None:
        self.config = config
        self.options = options
        self.job_id = job_id
        codec = load_codec(config.codec, config.codec_options)
        if (codec.generates and codec.generate_rpc != "predict") or (codec.embeds and codec.embed_rpc != "predict"):
            raise ConfigError(
                f"codec '{codec.name}' is not served by :predict; BatchPredictionJob sends instances "
                "(use vllm, tgi, tei or google-embeddings)",
                field="codec",
            )
        self.codec = codec
        self.max_payload_bytes = int(options.max_payload_mb * 1024 * 1024)
        self.shard_size = options.shard_size
        self.jobs_in_flight = options.jobs_in_flight
        if options.insecure and not is_loopback(options.api_endpoint or ""):
            raise ConfigError("insecure is only allowed for a loopback api_endpoint", field="vertex_batch.insecure")
        self.api_host = options.api_endpoint or f"{config.location}-aiplatform.googleapis.com"
        from ._gapic import credentials_for

        self._credentials = credentials_for(config)
        self.storage = self._storage_client()
        self.jobs = self._job_client()
        self.gcs_url = options.gcs_endpoint_url or "https://storage.googleapis.com"
        self.info = ModelInfo(
            id=config.model_id or f"vertex/{config.endpoint_id}",
            provider=NAME,
            capabilities=Capabilities(
                generate=codec.generates,
                chat=codec.chat,
                stream=False,
                embed=codec.embeds,
                tools=codec.tools,
                tools_mode=codec.tools_mode,
                structured_output=codec.structured_output,
                async_native=True,
                seed=codec.seed,
                max_context=config.max_context,
            ),
            boundary=Boundary(
                provider=NAME,
                location_kind="customer-cloud",
                region=config.location,
                network_path=f"Cloud Storage bucket {options.bucket}, then Vertex AI batch prediction",
                endpoint=self.gcs_url,
                tls=self.gcs_url.lower().startswith("https://"),
            ),
            embedding_dimension=config.embedding_dimension,
            description=f"Vertex AI batch prediction of {self.model_resource} ({codec.name} codec)",
            version=config.deployed_model_id,
        )

    def _storage_client(self) -> Any:
        import importlib

        storage: Any = importlib.import_module("google.cloud.storage")
        options = {"api_endpoint": self.options.gcs_endpoint_url} if self.options.gcs_endpoint_url else None
        return storage.Client(project=self.config.project, credentials=self._credentials, client_options=options)

    def _job_client(self) -> Any:
        from google.cloud.aiplatform_v1.services.job_service import JobServiceClient

        if self.options.insecure:
            import grpc
            from google.cloud.aiplatform_v1.services.job_service.transports.grpc import JobServiceGrpcTransport

            channel = grpc.insecure_channel(self.api_host)
            return JobServiceClient(transport=JobServiceGrpcTransport(channel=channel))
        return JobServiceClient(credentials=self._credentials, client_options={"api_endpoint": self.api_host})

    @property
    def model_resource(self) -> str:
        model = self.options.model
        if model.startswith("projects/"):
            return model
        return f"projects/{self.config.project}/locations/{self.config.location}/models/{model}"

    # -- residency, per target ----------------------------------------------------------------

    def preflight(self, policy: Any) -> list[dict[str, str]]:
        """Gate the Vertex API host and the bucket's location before anything is uploaded
        (the storage host itself is gated on every record: it is the model's boundary)."""
        scheme = "grpc" if self.options.insecure else "grpcs"
        api = Boundary(
            provider=NAME,
            location_kind="customer-cloud",
            region=self.config.location,
            endpoint=f"{scheme}://{self.api_host}",
            tls=not self.options.insecure,
        )
        targets = [("vertex", api)]
        if not is_loopback(self.gcs_url):
            location = str(self.storage.get_bucket(self.options.bucket).location or "").lower()
            if location != self.config.location:
                raise ConfigError(
                    f"bucket {self.options.bucket} is in {location or 'an unknown location'}, the model in "
                    f"{self.config.location}: batch data and model must share a region",
                    field="vertex_batch.bucket",
                )
            targets.append(("bucket", Boundary(provider=NAME, location_kind="customer-cloud", region=location)))
        return preflight_targets(NAME, targets, policy)

    # -- staging ---------------------------------------------------------------------------------

    def encode(self, shard: StagedShard, key: str, body: Any) -> list[str]:
        if not isinstance(body, Mapping) or not isinstance(body.get("instances"), list):
            raise ValueError("the codec's body has no instances list")
        parameters = body.get("parameters")
        expected = shard.state.setdefault("parameters", parameters)
        if parameters != expected:
            raise ValueError("its parameters differ from the other records of its job (one job, one parameter set)")
        lines = []
        for index, instance in enumerate(body["instances"]):
            if not isinstance(instance, Mapping) or "key" in instance:
                raise ValueError("instances must be objects without a 'key' field")
            lines.append(json.dumps({"key": f"{key}:{index}", **instance}, ensure_ascii=False, separators=(",", ":")))
        return lines

    def _paths(self, shard: StagedShard) -> tuple[str, str]:
        base = f"{self.options.prefix.strip('/')}/{self.job_id}"
        return f"{base}/in/{shard.name}.jsonl", f"{base}/out/{shard.name}"

    def run_shard(self, shard: StagedShard) -> list[ShardAnswer]:
        bucket = self.storage.bucket(self.options.bucket)
        in_name, out_name = self._paths(shard)
        bucket.blob(in_name).upload_from_filename(str(shard.path), content_type="application/jsonl")
        try:
            job = self._run_job(shard, f"gs://{bucket.name}/{in_name}", f"gs://{bucket.name}/{out_name}")
            state = job.state.name
            if state in ("JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED") or not (
                job.output_info and job.output_info.gcs_output_directory
            ):
                why = f"batch prediction job {job.name} ended {state}: {job.error.message or 'no output'}"
                return [ShardAnswer(k, error=why, code="BatchPredictionJobFailed") for k in shard.keys]
            return self._read_outputs(shard, str(job.output_info.gcs_output_directory))
        finally:
            if self.options.cleanup:
                for blob in [bucket.blob(in_name), *self.storage.list_blobs(bucket.name, prefix=out_name)]:
                    blob.delete()

    def _run_job(self, shard: StagedShard, input_uri: str, output_uri: str) -> Any:
        from google.cloud.aiplatform_v1.types import BatchPredictionJob

        options = self.options
        job: dict[str, Any] = {
            "display_name": f"byom-{self.job_id}-{shard.index:05d}",
            "model": self.model_resource,
            "input_config": {"instances_format": "jsonl", "gcs_source": {"uris": [input_uri]}},
            "instance_config": {"instance_type": "object", "key_field": "key"},
            "output_config": {"predictions_format": "jsonl", "gcs_destination": {"output_uri_prefix": output_uri}},
            "dedicated_resources": {
                "machine_spec": {"machine_type": options.machine_type},
                "starting_replica_count": options.starting_replica_count,
                "max_replica_count": options.max_replica_count,
            },
            "labels": dict(options.labels),
        }
        if shard.state.get("parameters") is not None:
            job["model_parameters"] = shard.state["parameters"]
        if options.batch_size:
            job["manual_batch_tuning_parameters"] = {"batch_size": options.batch_size}
        if options.service_account:
            job["service_account"] = options.service_account
        parent = f"projects/{self.config.project}/locations/{self.config.location}"
        created = self.jobs.create_batch_prediction_job(parent=parent, batch_prediction_job=BatchPredictionJob(job))
        deadline = time.monotonic() + options.timeout
        while True:
            current = self.jobs.get_batch_prediction_job(name=created.name)
            if current.state.name in _DONE:
                return current
            if time.monotonic() > deadline:
                self.jobs.cancel_batch_prediction_job(name=created.name)
                return current
            time.sleep(options.poll_interval)

    def _read_outputs(self, shard: StagedShard, directory: str) -> list[ShardAnswer]:
        bucket_name, _, prefix = directory.removeprefix("gs://").partition("/")
        predictions: dict[str, dict[int, Any]] = {}
        errors: dict[str, str] = {}
        for blob in self.storage.list_blobs(bucket_name, prefix=prefix.rstrip("/") + "/"):
            name = blob.name.rsplit("/", 1)[-1]
            if not name.startswith(("predictions_", "errors_")):
                continue
            for line in parse_json_lines(blob.download_as_bytes()):
                instance = line.get("instance")
                full = line.get("key") if "key" in line else (instance or {}).get("key")
                key, _, index = str(full).partition(":")
                if name.startswith("errors_"):
                    error = line.get("error") or {}
                    errors.setdefault(
                        key, f"instance {index}: {error.get('message', 'failed')} (code {error.get('code')})"
                    )
                else:
                    predictions.setdefault(key, {})[int(index or 0)] = line.get("prediction")
        answers = []
        for key in shard.keys:
            if key in errors:
                answers.append(ShardAnswer(key, error=errors[key]))
            elif key in predictions:
                parts = predictions[key]
                answers.append(ShardAnswer(key, answer={"predictions": [parts[i] for i in sorted(parts)]}))
        return answers

    def close(self) -> None:
        transport = getattr(self.jobs, "transport", None)
        if transport is not None:
            transport.close()
        self.storage.close()
