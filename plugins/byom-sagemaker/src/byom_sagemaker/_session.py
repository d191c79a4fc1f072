"""boto3 sessions and clients built from :class:`CredentialsConfig`.

Every client of a model (runtime, and the control plane for boundary checks) comes from
one ``boto3.Session``, so one credential chain applies to every operation. With
``role_arn`` the session resolves credentials through a provider that assumes the role
with STS and hands botocore ``RefreshableCredentials``, which re-assume the role shortly
before expiry, so long-running services never send an expired token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from byom_sdk import ConfigError

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config

    from ._config import CredentialsConfig, SageMakerConfig

__all__ = ["build_session", "client_config", "trim_per_call_handlers"]


def _assume_role_provider(source: boto3.Session, creds: CredentialsConfig, region: str) -> Any:
    from botocore.credentials import CredentialProvider, RefreshableCredentials

    sts = source.client("sts", region_name=region, endpoint_url=creds.sts_endpoint_url)
    params: dict[str, Any] = {
        "RoleArn": creds.role_arn,
        "RoleSessionName": creds.role_session_name,
        "DurationSeconds": creds.duration_seconds,
    }
    if creds.external_id:
        params["ExternalId"] = creds.external_id

    def refresh() -> dict[str, str]:
        got = sts.assume_role(**params)["Credentials"]
        return {
            "access_key": got["AccessKeyId"],
            "secret_key": got["SecretAccessKey"],
            "token": got["SessionToken"],
            "expiry_time": got["Expiration"].isoformat(),
        }

    class AssumeRoleProvider(CredentialProvider):  # type: ignore[misc]
        METHOD = "byom-assume-role"
        CANONICAL_NAME = "byom-assume-role"

        def load(self) -> RefreshableCredentials:
            return RefreshableCredentials.create_from_metadata(
                metadata=refresh(), refresh_using=refresh, method=self.METHOD
            )

    return AssumeRoleProvider()


def build_session(config: SageMakerConfig, *, alias: str | None = None) -> boto3.Session:
    """The session every client of this model is made from."""
    import boto3
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    creds = config.credentials
    try:
        if creds.access_key_id is not None:
            assert creds.secret_access_key is not None
            source = boto3.Session(
                aws_access_key_id=creds.access_key_id,
                aws_secret_access_key=creds.secret_access_key.get_secret_value(),
                aws_session_token=creds.session_token.get_secret_value() if creds.session_token else None,
                region_name=config.region,
            )
        else:
            source = boto3.Session(profile_name=creds.profile, region_name=config.region)
    except ProfileNotFound as exc:
        raise ConfigError(str(exc), source="sagemaker", alias=alias, field="credentials.profile") from exc
    if creds.role_arn is None:
        return source
    core = botocore.session.Session()
    # Only our provider in the chain: an assumed role must never silently fall back to
    # whatever ambient credentials the machine has.
    resolver = core.get_component("credential_provider")
    resolver.providers = [_assume_role_provider(source, creds, config.region)]
    return boto3.Session(botocore_session=core, region_name=config.region)


def client_config(config: SageMakerConfig) -> Config:
    """botocore client settings: no botocore retries (the core policy retries), our timeouts."""
    from botocore.config import Config

    return Config(
        region_name=config.region,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
        tcp_keepalive=True,
        # One pooled connection per concurrent call: botocore's default of 10 makes calls
        # beyond the tenth open (and drop) a new connection each time.
        max_pool_connections=config.max_connections,
        user_agent_extra="byom-sagemaker/0.1",
        # The parameters are built by the transport from a validated config (strings and
        # bytes of the right members), so botocore's per-call schema walk finds nothing:
        # ~25 µs a call (bench/sagemaker_overhead.py).
        parameter_validation=False,
    )


def trim_per_call_handlers(client: Any) -> None:
    """Take botocore's per-call steps that have nothing to do here off ``client``.

    The core RetryPolicy is the only retry layer (``total_max_attempts = 1``), so botocore's
    retry check after each response and the ``amz-sdk-request`` / ``amz-sdk-invocation-id``
    headers that number its attempts describe a retry loop that never runs; and the
    User-Agent, built with each request, is not rebuilt a second time before signing.
    Together about 70 µs of botocore's ~0.35 ms per call on the benchmark machine
    (bench/sagemaker_overhead.py). Each goes through botocore's public ``unregister``;
    one that is not registered is a no-op, so a botocore that changed its handlers keeps
    working (only slower).
    """
    import botocore.handlers

    events = client.meta.events
    service = client.meta.service_model.service_id.hyphenize()
    events.unregister(f"needs-retry.{service}", unique_id=f"retry-config-{service}")
    events.unregister(f"request-created.{service}", unique_id=f"seed-max-attempts-{service}")
    events.unregister("request-created", botocore.handlers.add_retry_headers)
    # botocore >= 1.37.4 rebuilds the User-Agent per request; older ones do not.
    rebuild = getattr(getattr(client, "_user_agent_creator", None), "rebuild_and_replace_user_agent_handler", None)
    if rebuild is not None:
        events.unregister(f"request-created.{service}", rebuild)
