"""Configuration of the ``sagemaker`` provider (the keys of a ``[models.ALIAS]`` table).

Validated by pydantic with ``extra="forbid"`` so a misspelled key is reported with its
name instead of being silently ignored. Nothing here imports boto3.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from byom_sdk.trust.residency import redact_url, split_host

__all__ = ["CODEC_NAMES", "CredentialsConfig", "SageMakerConfig", "TransformOptions"]

#: the built-in codec names, plus ``custom`` (a user class named by ``codec_class``).
CODEC_NAMES = ("tgi", "lmi", "openai", "jumpstart", "tei", "custom")

# fullmatch, not match: "$" also matches before a trailing newline.
_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


class CredentialsConfig(BaseModel):
    """Where the AWS credentials come from.

    Source credentials are the default boto3 chain, a named ``profile``, or static keys
    (meant for tests against the local server). With ``role_arn`` the source credentials
    assume that role through STS and the role credentials refresh themselves before they
    expire (botocore ``RefreshableCredentials``).

    :param profile: a profile from ``~/.aws/config`` / ``~/.aws/credentials``.
    :param access_key_id: static access key (tests; prefer profiles or roles elsewhere).
    :param secret_access_key: static secret key, required with ``access_key_id``.
    :param session_token: optional session token for static keys.
    :param role_arn: role to assume on top of the source credentials.
    :param role_session_name: session name recorded in CloudTrail for the assumed role.
    :param external_id: the role's external id, when its trust policy requires one.
    :param duration_seconds: lifetime of each set of role credentials.
    :param sts_endpoint_url: STS endpoint override (VPC endpoint, or a local emulator).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/.+$")
    role_session_name: str = Field(default="byom-sagemaker", min_length=2, max_length=64)
    external_id: str | None = None
    duration_seconds: int = Field(default=3600, ge=900, le=43200)
    sts_endpoint_url: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CredentialsConfig:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("give both 'access_key_id' and 'secret_access_key', or neither")
        if self.profile is not None and self.access_key_id is not None:
            raise ValueError("give either 'profile' or static keys, not both")
        if self.session_token is not None and self.access_key_id is None:
            raise ValueError("'session_token' needs 'access_key_id' and 'secret_access_key'")
        return self

    @property
    def kind(self) -> str:
        """``default``, ``profile`` or ``static``, with ``+assume_role`` when a role is set."""
        base = "profile" if self.profile else "static" if self.access_key_id else "default"
        return f"{base}+assume_role" if self.role_arn else base


def _check_url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    shown = redact_url(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{field}' must be an http(s) URL with a host, got {shown!r}")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{shown!r} must be a URL with no user info, query or fragment")
    split_host(value)  # its ValueError names the problem
    return value.rstrip("/")


class SageMakerConfig(BaseModel):
    """One SageMaker real-time endpoint (``provider = "sagemaker"``).

    :param endpoint_name: the SageMaker endpoint name.
    :param region: AWS region of the endpoint. Required: there is no silent default.
    :param codec: payload format of the container: ``tgi``, ``lmi``, ``openai``,
        ``jumpstart``, ``tei`` or ``custom``. Required: never guessed from names.
    :param codec_class: ``"pkg.module:Class"`` of a user codec, with ``codec = "custom"``.
    :param codec_options: keyword arguments for the codec (see each codec's docstring).
    :param inference_component: sent as ``InferenceComponentName`` on every call.
    :param target_variant: sent as ``TargetVariant``.
    :param target_model: sent as ``TargetModel`` (multi-model endpoints; not for streams).
    :param custom_attributes: sent as ``CustomAttributes`` (codec attributes are appended).
    :param session_id: sent as ``SessionId`` (stateful sessions).
    :param credentials: see :class:`CredentialsConfig`.
    :param endpoint_url: runtime endpoint override (VPC endpoint, or the local server).
    :param control_plane_endpoint_url: SageMaker API endpoint override for boundary checks.
    :param max_connections: pooled connections to the endpoint (match the Client's
        ``max_concurrency`` when calls are concurrent).
    :param connect_timeout: seconds to open a connection.
    :param read_timeout: seconds to wait for response bytes; long because a generation
        answers only when it is done. A request's own ``timeout`` lowers it per call.
    :param not_ready_retry_after: backoff hint (seconds) on ModelNotReady (cold start).
    :param verify_boundary: read the endpoint back from the control plane when the model
        is built and record attestations (data capture, KMS key, VPC, isolation).
    :param network_path: override the derived network path description.
    :param model_id: the id reported in ``ModelInfo`` (default: the endpoint name).
    :param stream: declare streaming (set false for containers that cannot stream).
    :param max_context: the model's context window in tokens, when known.
    :param max_output_tokens: the most tokens one call may generate, when known.
    :param embedding_dimension: vector size of an embedding endpoint, when known.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_name: str = Field(min_length=1, max_length=63)
    region: str
    codec: Literal["tgi", "lmi", "openai", "jumpstart", "tei", "custom"]
    codec_class: str | None = None
    codec_options: dict[str, Any] = Field(default_factory=dict)
    inference_component: str | None = Field(default=None, min_length=1)
    target_variant: str | None = Field(default=None, min_length=1)
    target_model: str | None = Field(default=None, min_length=1)
    custom_attributes: str | None = Field(default=None, max_length=1024)
    session_id: str | None = Field(default=None, min_length=1)
    credentials: CredentialsConfig = Field(default_factory=CredentialsConfig)
    endpoint_url: str | None = None
    control_plane_endpoint_url: str | None = None
    max_connections: int = Field(default=64, ge=1, le=1024)
    connect_timeout: float = Field(default=10.0, gt=0.0)
    read_timeout: float = Field(default=300.0, gt=0.0)
    not_ready_retry_after: float = Field(default=5.0, ge=0.0)
    verify_boundary: bool = False
    network_path: str | None = None
    model_id: str | None = None
    stream: bool = True
    max_context: int | None = Field(default=None, ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    embedding_dimension: int | None = Field(default=None, ge=1)

    @field_validator("endpoint_name")
    @classmethod
    def _endpoint_name(cls, value: str) -> str:
        if not _ENDPOINT_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a SageMaker endpoint name (letters, digits, hyphens)")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not an AWS region name (like 'eu-west-1')")
        return value

    @field_validator("custom_attributes", "inference_component", "target_variant", "target_model", "session_id")
    @classmethod
    def _ascii(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Each is sent as an HTTP header (botocore's parameter validation is off): a newline
        # or a non-ASCII character would fail every call with an untyped HTTP client error.
        if value is not None and not all(32 <= ord(c) < 127 for c in value):
            raise ValueError(f"{info.field_name} must be visible ASCII (it is sent as an HTTP header)")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        return _check_url(value, "endpoint_url")

    @field_validator("control_plane_endpoint_url")
    @classmethod
    def _control_url(cls, value: str | None) -> str | None:
        return _check_url(value, "control_plane_endpoint_url")

    @model_validator(mode="after")
    def _codec_class(self) -> SageMakerConfig:
        if self.codec == "custom":
            if not self.codec_class:
                raise ValueError("codec 'custom' needs codec_class = \"pkg.module:Class\"")
            if not _IMPORT_PATH.fullmatch(self.codec_class):
                raise ValueError(f"codec_class {self.codec_class!r} is not of the form 'pkg.module:Class'")
        elif self.codec_class is not None:
            raise ValueError(f"codec_class is only used with codec = 'custom' (codec is '{self.codec}')")
        return self


class TransformOptions(BaseModel):
    """The ``[sagemaker_transform]`` table of a batch job.

    :param bucket: the S3 bucket staging inputs and outputs (in the model's region).
    :param prefix: key prefix; each run writes under ``<prefix>/<job id>/``.
    :param model_name: the SageMaker Model the job runs (default: the endpoint name).
    :param instance_type: ``TransformResources.InstanceType``.
    :param instance_count: ``TransformResources.InstanceCount``.
    :param max_payload_mb: ``MaxPayloadInMB`` (also the per-record limit checked here).
    :param max_concurrent_transforms: ``MaxConcurrentTransforms`` (0: the container's).
    :param invocations_timeout: ``ModelClientConfig.InvocationsTimeoutInSeconds``.
    :param invocations_max_retries: ``ModelClientConfig.InvocationsMaxRetries``.
    :param shard_size: records per transform job.
    :param jobs_in_flight: transform jobs running at once (each holds a shard in memory).
    :param poll_interval: seconds between ``DescribeTransformJob`` calls.
    :param timeout: seconds a job may run before it is stopped.
    :param kms_key_id: ``TransformOutput.KmsKeyId``.
    :param cleanup: delete each shard's S3 input and output once read back.
    :param s3_endpoint_url: S3 endpoint override (a VPC endpoint, or moto in tests).
    :param sagemaker_endpoint_url: SageMaker API endpoint override (default: the model's
        ``control_plane_endpoint_url``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = "byom-batch"
    model_name: str | None = None
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = Field(default=1, ge=1)
    max_payload_mb: int = Field(default=6, ge=1, le=100)
    max_concurrent_transforms: int = Field(default=0, ge=0)
    invocations_timeout: int = Field(default=600, ge=1, le=3600)
    invocations_max_retries: int | None = Field(default=None, ge=0, le=3)
    shard_size: int = Field(default=1000, ge=1)
    jobs_in_flight: int = Field(default=2, ge=1)
    poll_interval: float = Field(default=15.0, gt=0.0)
    timeout: float = Field(default=86_400.0, gt=0.0)
    kms_key_id: str | None = None
    cleanup: bool = True
    s3_endpoint_url: str | None = None
    sagemaker_endpoint_url: str | None = None
