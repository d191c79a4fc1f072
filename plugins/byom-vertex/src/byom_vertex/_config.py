"""``VertexConfig``: the provider keys of a ``provider = "vertex"`` model in byom.toml.

::

    [models.support-bot]
    provider = "vertex"
    project = "acme-ml"
    location = "europe-west4"
    endpoint_id = "1234567890"
    codec = "vllm"
    credentials = { kind = "service-account", file = "keys/sa.json" }

Only pydantic is imported here: the plugin's entry-point module imports this file to
register the schema, and ``import byom_sdk`` must stay free of the Google libraries.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from byom_sdk import ConfigPath
from byom_sdk.trust.residency import is_loopback, redact_url, split_host

__all__ = ["CODECS", "CredentialsConfig", "VertexBatchOptions", "VertexConfig"]

#: The built-in payload codecs; ``custom`` loads ``codec_options.class``.
CODECS = ("vllm", "tgi", "openai", "tei", "google-embeddings", "custom")

# fullmatch, not match: "$" also matches before a trailing newline.
_LOCATION = re.compile(r"global|us|eu|[a-z]+-[a-z]+[0-9]+")
#: a project id (``my-project``, legacy ``example.com:my-project``) or number, an endpoint id:
#: they go into the resource path and the ``x-goog-request-params`` header, so no spaces,
#: control or non-ASCII characters.
_RESOURCE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


# gRPC target schemes (grpc/doc/naming.md and the resolvers grpcio registers).
_GRPC_RESOLVERS = frozenset({"dns", "unix", "unix-abstract", "ipv4", "ipv6", "vsock", "xds", "google-c2p"})


def plain_endpoint(value: str | None, *, urls: bool) -> str | None:
    """``value`` as ``host[:port]`` or, where ``urls``, ``http(s)://host[:port]`` with the
    scheme lowercased. Anything else — another scheme (``grpcs://``, gRPC's ``dns://``
    resolver syntax), user info, a path or query, an unparseable host — is refused: the
    gate must judge exactly the host the Google clients will connect to."""
    if value is None:
        return None
    text = value.strip()
    shown = repr(redact_url(text))
    scheme, has_scheme, rest = text.partition("://")
    if has_scheme:
        if not urls or scheme.lower() not in ("http", "https"):
            allowed = "host[:port] or an http:// / https:// URL" if urls else "host[:port] (no scheme)"
            raise ValueError(f"{shown}: scheme '{scheme}' is not accepted; give {allowed}")
        text = f"{scheme.lower()}://{rest}"
    authority = rest.rstrip("/") if has_scheme else text
    resolver = authority.partition(":")[0].lower()
    if not has_scheme and resolver in _GRPC_RESOLVERS:
        # gRPC reads "unix:443" as a unix socket path, not host "unix" port 443.
        raise ValueError(f"{shown}: gRPC reads '{resolver}:' as a name resolver, not a host; give host[:port]")
    if any(char in authority for char in "@/?#"):
        raise ValueError(f"{shown} must be host[:port] only: no user info, path, query or fragment")
    split_host(authority)  # its ValueError names the problem
    return text.rstrip("/")


class CredentialsConfig(BaseModel):
    """How the plugin authenticates.

    :param kind: ``adc`` (Application Default Credentials: workload identity, gcloud login,
        ``GOOGLE_APPLICATION_CREDENTIALS``), ``service-account`` (a key file) or
        ``anonymous`` (no token; only for local test servers).
    :param file: the service-account key file (``kind = "service-account"``).
    :param scopes: OAuth scopes requested for the token.
    :param quota_project: the project billed for quota, when it differs from ``project``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: Literal["adc", "service-account", "anonymous"] = "adc"
    file: ConfigPath | None = None
    scopes: tuple[str, ...] = ("https://www.googleapis.com/auth/cloud-platform",)
    quota_project: str | None = None

    @model_validator(mode="after")
    def _file_for_service_account(self) -> CredentialsConfig:
        if self.kind == "service-account" and self.file is None:
            raise ValueError("credentials.kind 'service-account' needs credentials.file (the JSON key)")
        if self.kind != "service-account" and self.file is not None:
            raise ValueError(f"credentials.file is only used with kind 'service-account', not {self.kind!r}")
        return self


class VertexConfig(BaseModel):
    """Configuration of one Vertex AI endpoint model.

    :param project: the Google Cloud project id (or number) owning the endpoint.
    :param location: the endpoint's region, e.g. ``europe-west4``. Required. ``global`` is
        accepted here but reported as region ``"global"`` in the boundary, so a trust policy
        with ``allowed_regions`` refuses it unless it lists ``global``.
    :param endpoint_id: the numeric endpoint id.
    :param dedicated_endpoint_dns: the endpoint's dedicated DNS name
        (``ID.REGION-PROJECT.prediction.vertexai.goog``); prediction calls go there.
    :param transport: ``grpc`` (default) or ``rest``.
    :param rest_raw: with ``transport = "rest"``, how rawPredict / streamRawPredict travel:
        ``http`` (default) posts the container's own body through google-auth's
        ``AuthorizedSession``, as the service and Google's high-level SDK do; ``gapic`` uses
        the GAPIC REST client, which wraps bodies as HttpBody JSON (not verified against the
        real service).
    :param codec: the container's payload format (see the docs page).
    :param codec_options: codec settings (``class`` for ``custom``; ``model`` for
        ``openai``; ``task_type`` for ``google-embeddings``…).
    :param api_endpoint: override the API host (``host:port`` for gRPC, a URL for REST).
    :param insecure: plaintext gRPC / HTTP; only allowed for loopback ``api_endpoint`` hosts
        (local test servers), so a token can never travel unencrypted.
    :param timeout: per-call timeout in seconds when the retry policy sets none.
    :param verify_boundary: read the Endpoint resource when the model is built and record
        what it says (dedicated endpoint, Private Service Connect, request-response
        logging) as boundary attestations.
    :param network_path: override the reported network path (e.g. ``private-service-connect``
        when ``api_endpoint`` is a PSC address).
    :param model_id: the id reported in ``ModelInfo`` and responses (default: endpoint id).
    :param deployed_model_id: the deployed model (version) this alias stands for, reported
        as ``ModelInfo.version`` and in every audit record. It is not sent: ``predict``,
        ``rawPredict`` and ``streamRawPredict`` take no deployed-model selector and follow
        the endpoint's ``trafficSplit``, so pin a version by deploying it on its own
        endpoint (or giving it 100 % of the split).
    :param embedding_dimension: vector size of an embedding endpoint (required for ``tei`` and
        ``google-embeddings``).
    :param max_context: declared context window in tokens.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    project: str = Field(min_length=1)
    location: str
    endpoint_id: str = Field(min_length=1)
    dedicated_endpoint_dns: str | None = None
    transport: Literal["grpc", "rest"] = "grpc"
    rest_raw: Literal["http", "gapic"] = "http"
    codec: Literal["vllm", "tgi", "openai", "tei", "google-embeddings", "custom"] = "vllm"
    codec_options: dict[str, Any] = Field(default_factory=dict)
    credentials: CredentialsConfig = Field(default_factory=CredentialsConfig)
    api_endpoint: str | None = None
    insecure: bool = False
    timeout: float = Field(default=120.0, gt=0.0)
    verify_boundary: bool = False
    network_path: str | None = None
    model_id: str | None = None
    deployed_model_id: str | None = Field(default=None, min_length=1, pattern=r"^[0-9]+$")
    embedding_dimension: int | None = Field(default=None, ge=1)
    max_context: int | None = Field(default=None, ge=1)

    @field_validator("location")
    @classmethod
    def _valid_location(cls, value: str) -> str:
        if not _LOCATION.fullmatch(value):
            raise ValueError(f"'{value}' is not a Vertex AI location (e.g. 'europe-west4', 'us-central1')")
        return value

    @field_validator("api_endpoint")
    @classmethod
    def _plain_api_endpoint(cls, value: str | None) -> str | None:
        return plain_endpoint(value, urls=True)

    @field_validator("dedicated_endpoint_dns")
    @classmethod
    def _plain_dedicated_dns(cls, value: str | None) -> str | None:
        return plain_endpoint(value, urls=False)

    @field_validator("endpoint_id")
    @classmethod
    def _bare_endpoint_id(cls, value: str) -> str:
        if "/" in value:
            raise ValueError("give the bare endpoint id, not the resource name (projects/…/endpoints/ID)")
        if not _RESOURCE_PART.fullmatch(value):
            raise ValueError(f"{value!r} is not a Vertex endpoint id (letters, digits, '-', '_', '.')")
        return value

    @field_validator("project")
    @classmethod
    def _plain_project(cls, value: str) -> str:
        if not _RESOURCE_PART.fullmatch(value):
            raise ValueError(f"{value!r} is not a Google Cloud project id or number")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> VertexConfig:
        if self.codec in ("tei", "google-embeddings") and self.embedding_dimension is None:
            raise ValueError(f"codec '{self.codec}' serves embeddings: set embedding_dimension (the vector size)")
        if self.codec == "custom" and "class" not in self.codec_options:
            raise ValueError("codec 'custom' needs codec_options.class = 'package.module:CodecClass'")
        if self.insecure:
            if self.api_endpoint is None or not is_loopback(self.api_endpoint):
                raise ValueError("insecure = true is only allowed with a loopback api_endpoint (127.0.0.1 / localhost)")
        elif (self.api_endpoint or "").startswith("http://") and not is_loopback(self.api_endpoint or ""):
            raise ValueError("a plain http:// api_endpoint is only allowed for loopback hosts")
        if self.dedicated_endpoint_dns is not None and self.api_endpoint is not None:
            raise ValueError("give either dedicated_endpoint_dns or api_endpoint, not both")
        if self.transport == "grpc" and self.api_endpoint is not None and "://" in self.api_endpoint:
            raise ValueError(
                f"api_endpoint {redact_url(self.api_endpoint)!r}: gRPC takes host[:port] (no scheme); "
                "a URL is for transport = 'rest'"
            )
        return self

    @property
    def resource(self) -> str:
        """The endpoint's resource name, ``projects/P/locations/L/endpoints/E``."""
        return f"projects/{self.project}/locations/{self.location}/endpoints/{self.endpoint_id}"

    @property
    def host(self) -> str:
        """The API host the clients talk to."""
        if self.api_endpoint is not None:
            return self.api_endpoint
        if self.dedicated_endpoint_dns is not None:
            return self.dedicated_endpoint_dns
        if self.location == "global":
            return "aiplatform.googleapis.com"
        return f"{self.location}-aiplatform.googleapis.com"

    @property
    def plaintext(self) -> bool:
        return self.insecure or (self.api_endpoint or "").startswith("http://")


class VertexBatchOptions(BaseModel):
    """The ``[vertex_batch]`` table of a batch job.

    :param bucket: the Cloud Storage bucket staging inputs and outputs (in the model's region).
    :param model: the registry Model the job runs: ``projects/P/locations/L/models/ID``
        (``@version`` / ``@alias`` allowed) or just the id (the model's project and location).
    :param prefix: object prefix; each run writes under ``<prefix>/<job id>/``.
    :param machine_type: ``dedicated_resources.machine_spec.machine_type``.
    :param starting_replica_count: / :param max_replica_count: the job's replicas.
    :param batch_size: ``manual_batch_tuning_parameters.batch_size`` (instances per request).
    :param shard_size: records per job. :param jobs_in_flight: jobs running at once.
    :param max_payload_mb: the largest encoded record accepted.
    :param poll_interval: seconds between ``GetBatchPredictionJob`` calls.
    :param timeout: seconds a job may run before it is cancelled.
    :param cleanup: delete each shard's input and output once read back.
    :param api_endpoint: the JobService host (default ``{location}-aiplatform.googleapis.com``).
    :param insecure: plaintext gRPC to ``api_endpoint`` (loopback test servers only).
    :param gcs_endpoint_url: Cloud Storage endpoint override (the emulator in tests).
    :param service_account: the service account the job runs as.
    :param labels: labels of every job.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str = Field(min_length=3, max_length=222)
    model: str = Field(min_length=1)
    prefix: str = "byom-batch"
    machine_type: str = "n1-standard-4"
    starting_replica_count: int = Field(default=1, ge=1)
    max_replica_count: int = Field(default=1, ge=1)
    batch_size: int | None = Field(default=None, ge=1)
    shard_size: int = Field(default=1000, ge=1)
    jobs_in_flight: int = Field(default=2, ge=1)
    max_payload_mb: float = Field(default=1.5, gt=0.0)
    poll_interval: float = Field(default=30.0, gt=0.0)
    timeout: float = Field(default=86_400.0, gt=0.0)
    cleanup: bool = True
    api_endpoint: str | None = None
    insecure: bool = False
    gcs_endpoint_url: str | None = None
    service_account: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("api_endpoint")
    @classmethod
    def _plain_api_endpoint(cls, value: str | None) -> str | None:
        return plain_endpoint(value, urls=False)
