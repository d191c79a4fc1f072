"""SageMaker Batch Transform as a byom batch runner (``runner = "sagemaker-transform"``).

The records, masked and encoded by the model's own codec (the one its online calls use),
are staged as JSON lines ``{"k": key, "body": <codec body>}`` — ``k`` an opaque number, never
the record id — uploaded to S3, and run by ``CreateTransformJob`` with the codec's content
type, ``SplitType=Line``, ``BatchStrategy=SingleRecord`` and a ``DataProcessing`` that sends
only ``body`` to the container and joins its answer back to ``k``::

    InputFilter "$.body"   JoinSource "Input"   OutputFilter "$['k','SageMakerOutput']"

The ``.out`` file is read back, each answer handed to the waiting call by ``k``, decoded by
the codec and restored there. SageMaker writes an input object's ``.out`` only when every
record of it succeeded, so a failed job fails each record of its shard
(``TransformJobFailed``, retryable: rerun with smaller shards to isolate a bad record).

``[sagemaker_transform]`` options: see :class:`TransformOptions`. Credentials, region and
codec are the model's (``[models.ALIAS]``); the model the job runs is ``model_name``
(default: the endpoint's name). Tests run against moto's S3 and
:class:`byom_sagemaker.testing.LocalTransformService`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from byom_sdk import Boundary, Capabilities, ConfigError, ModelInfo
from byom_sdk.batch import ShardAnswer, StagedShard, parse_json_lines, preflight_targets
from byom_sdk.trust.residency import is_loopback

from ._codecs import load_codec
from ._config import SageMakerConfig, TransformOptions
from ._session import build_session

__all__ = ["TransformBackend"]

NAME = "sagemaker-transform"
#: what each staged line carries to the container, and what comes back joined to its key.
DATA_PROCESSING = {"InputFilter": "$.body", "JoinSource": "Input", "OutputFilter": "$['k','SageMakerOutput']"}


class TransformBackend:
    """Runs staged shards as SageMaker Batch Transform jobs (see the module docstring)."""

    name = NAME

    def __init__(self, config: SageMakerConfig, options: TransformOptions, *, job_id: str) -> None:
        from botocore.config import Config

        self.config = config
        self.options = options
        self.job_id = job_id
        self.codec = load_codec(config)
        self.max_payload_bytes = options.max_payload_mb * 1024 * 1024
        self.shard_size = options.shard_size
        self.jobs_in_flight = options.jobs_in_flight
        session = build_session(config)
        retries = {"total_max_attempts": 5, "mode": "standard"}
        self.s3 = session.client(
            "s3",
            endpoint_url=options.s3_endpoint_url,
            config=Config(region_name=config.region, retries=retries, s3={"addressing_style": "path"}),
        )
        self.sagemaker = session.client(
            "sagemaker",
            endpoint_url=options.sagemaker_endpoint_url or config.control_plane_endpoint_url,
            config=Config(region_name=config.region, retries=retries),
        )
        from ._boundary import install_send_guard

        # The staged bodies may only leave for the S3 host the gate saw (path-style keeps
        # the bucket out of the host name).
        s3_url = str(self.s3.meta.endpoint_url)
        install_send_guard(self.s3, s3_url, signing_region=str(self.s3.meta.region_name))
        codec = self.codec
        self.info = ModelInfo(
            id=config.model_id or config.endpoint_name,
            provider=NAME,
            capabilities=Capabilities(
                generate=codec.generates,
                chat=codec.chat,
                stream=False,
                embed=codec.embeds,
                tools=codec.tools and codec.chat,
                tools_mode=codec.tools_mode,
                structured_output=codec.structured_output,
                async_native=True,
                stop_sequences=codec.stop_sequences,
                seed=codec.seed,
                max_context=config.max_context,
                max_output_tokens=config.max_output_tokens,
            ),
            boundary=Boundary(
                provider=NAME,
                location_kind="customer-cloud",
                region=config.region,
                network_path=f"S3 bucket {options.bucket}, then SageMaker Batch Transform",
                endpoint=s3_url,
                tls=s3_url.lower().startswith("https://"),
                signing_region=str(self.s3.meta.region_name),
            ),
            embedding_dimension=config.embedding_dimension,
            description=f"SageMaker Batch Transform of model {self.model_name} ({codec.name} codec)",
            version=config.inference_component or config.target_variant,
        )

    @property
    def model_name(self) -> str:
        return self.options.model_name or self.config.endpoint_name

    # -- residency, per target ----------------------------------------------------------------

    def preflight(self, policy: Any) -> list[dict[str, str]]:
        """Gate the SageMaker API and the bucket's region before anything is uploaded; the
        S3 host itself is gated on every record (it is the model's boundary)."""
        api = str(self.sagemaker.meta.endpoint_url)
        # The job runs where the model's runtime host is: gate that host (the API host of
        # a region is not a host the gate derives a region from) unless an override names one.
        service = (
            api
            if (self.options.sagemaker_endpoint_url or self.config.control_plane_endpoint_url)
            else (f"https://runtime.sagemaker.{self.config.region}.amazonaws.com")
        )
        targets = [
            (
                "sagemaker",
                Boundary(
                    provider=NAME,
                    location_kind="customer-cloud",
                    region=self.config.region,
                    endpoint=service,
                    tls=service.lower().startswith("https://"),
                ),
            )
        ]
        s3_url = str(self.s3.meta.endpoint_url)
        if not is_loopback(s3_url):
            location = self.s3.get_bucket_location(Bucket=self.options.bucket).get("LocationConstraint") or "us-east-1"
            if location != self.config.region:
                raise ConfigError(
                    f"bucket {self.options.bucket} is in {location}, the model in {self.config.region}: "
                    "Batch Transform reads and writes its own region",
                    field="sagemaker_transform.bucket",
                )
            targets.append(("bucket", Boundary(provider=NAME, location_kind="customer-cloud", region=location)))
        return preflight_targets(NAME, targets, policy)

    # -- staging ---------------------------------------------------------------------------------

    def encode(self, shard: StagedShard, key: str, body: Any) -> list[str]:
        return [json.dumps({"k": key, "body": body}, ensure_ascii=False, separators=(",", ":"))]

    def _keys(self, shard: StagedShard) -> tuple[str, str]:
        base = f"{self.options.prefix.strip('/')}/{self.job_id}"
        return f"{base}/in/{shard.name}.jsonl", f"{base}/out/{shard.name}/"

    def job_name(self, shard: StagedShard) -> str:
        return f"byom-{self.job_id}-{shard.index:05d}"[:63]

    def run_shard(self, shard: StagedShard) -> list[ShardAnswer]:
        bucket = self.options.bucket
        in_key, out_prefix = self._keys(shard)
        self.s3.upload_file(str(shard.path), bucket, in_key)
        name = self.job_name(shard)
        try:
            status, reason = self._run_job(name, f"s3://{bucket}/{in_key}", f"s3://{bucket}/{out_prefix}")
            if status != "Completed":
                why = f"transform job {name} {status.lower()}: {reason or 'no reason given'}"
                return [ShardAnswer(k, error=why, code="TransformJobFailed") for k in shard.keys]
            answers: list[ShardAnswer] = []
            for key in self._objects(out_prefix):
                if not key.endswith(".out"):
                    continue
                data = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                for line in parse_json_lines(data):
                    if "k" in line:
                        answers.append(ShardAnswer(str(line["k"]), answer=line.get("SageMakerOutput")))
            return answers
        finally:
            if self.options.cleanup:
                self._delete([in_key, *self._objects(out_prefix)])

    def _run_job(self, name: str, input_uri: str, output_uri: str) -> tuple[str, str | None]:
        options, codec = self.options, self.codec
        request: dict[str, Any] = {
            "TransformJobName": name,
            "ModelName": self.model_name,
            "MaxPayloadInMB": options.max_payload_mb,
            "BatchStrategy": "SingleRecord",
            "ModelClientConfig": {"InvocationsTimeoutInSeconds": options.invocations_timeout},
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
                "ContentType": codec.content_type,
                "CompressionType": "None",
                "SplitType": "Line",
            },
            "TransformOutput": {"S3OutputPath": output_uri, "Accept": codec.accept, "AssembleWith": "Line"},
            "TransformResources": {"InstanceType": options.instance_type, "InstanceCount": options.instance_count},
            "DataProcessing": dict(DATA_PROCESSING),
        }
        if options.max_concurrent_transforms:
            request["MaxConcurrentTransforms"] = options.max_concurrent_transforms
        if options.invocations_max_retries is not None:
            request["ModelClientConfig"]["InvocationsMaxRetries"] = options.invocations_max_retries
        if options.kms_key_id:
            request["TransformOutput"]["KmsKeyId"] = options.kms_key_id
        self.sagemaker.create_transform_job(**request)
        deadline = time.monotonic() + options.timeout
        while True:
            described = self.sagemaker.describe_transform_job(TransformJobName=name)
            status = str(described.get("TransformJobStatus"))
            if status in ("Completed", "Failed", "Stopped"):
                return status, described.get("FailureReason")
            if time.monotonic() > deadline:
                self.sagemaker.stop_transform_job(TransformJobName=name)
                return "Stopped", f"no result within timeout={options.timeout:g} s"
            time.sleep(options.poll_interval)

    def _objects(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.options.bucket, Prefix=prefix):
            keys.extend(str(item["Key"]) for item in page.get("Contents", ()))
        return keys

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            if chunk:
                self.s3.delete_objects(Bucket=self.options.bucket, Delete={"Objects": [{"Key": k} for k in chunk]})

    def close(self) -> None:
        self.s3.close()
        self.sagemaker.close()
