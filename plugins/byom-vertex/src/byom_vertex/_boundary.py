"""The boundary a Vertex endpoint model reports, and the opt-in check that reads the
Endpoint resource back from the control plane (EndpointService.GetEndpoint).

The boundary is derived from the API host the gRPC and REST clients are built with
(``config.host``: ``api_endpoint`` when set, else the dedicated endpoint DNS name, else
``{location}-aiplatform.googleapis.com`` or ``aiplatform.googleapis.com`` for ``global``);
both transports are given exactly that host, so it is where calls go. The trust gate
parses it and refuses a call whose host names another location than the resource path
``projects/P/locations/{location}/endpoints/E``. A Private Service Connect address or a
private DNS name derives no location: the policy must name it in ``trusted_endpoints``.
A plaintext endpoint (a loopback server) that requests or gRPC reach through a proxy
(``HTTP_PROXY``, ``grpc_proxy``…, less ``NO_PROXY``) is read in full by the proxy: the proxy
is then the host the gate judges.

Retention stays unknown (``None``) without verification: a Vertex endpoint may log
requests and responses to BigQuery. With ``verify_boundary = true`` the plugin records
what the Endpoint resource says as attestations, and reports retention ``"none"`` only
when request-response logging is verified off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from byom_sdk import Attestation, Boundary
from byom_sdk.trust.residency import derive_destination, is_loopback, plaintext_proxy

from ._config import VertexConfig

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

__all__ = ["base_boundary", "endpoint_url", "read_endpoint", "verified_boundary"]

_SOURCE = "vertex:EndpointService.GetEndpoint"


def _network_path(config: VertexConfig) -> str:
    if config.network_path is not None:
        return config.network_path
    if config.api_endpoint is not None and is_loopback(config.api_endpoint):
        return "loopback"
    if config.dedicated_endpoint_dns is not None:
        return "dedicated-endpoint"
    return "public-internet"


def endpoint_url(config: VertexConfig) -> str:
    """Where calls go, as a URL naming the transport (reported as ``Boundary.endpoint``)."""
    host = config.host.split("://", 1)[-1].rstrip("/")
    if config.transport == "rest":
        scheme = "http" if config.plaintext else "https"
        return f"{scheme}://{host}/v1/{config.resource}"
    scheme = "grpc" if config.plaintext else "grpcs"
    return f"{scheme}://{host}/{config.resource}"


def base_boundary(config: VertexConfig) -> Boundary:
    """The boundary of the host the clients connect to (retention unknown)."""
    try:
        destination = derive_destination(config.host)
    except ValueError:
        destination = None  # the gate refuses the host by name
    parsed = destination.cloud_host if destination is not None else None
    derived = parsed is not None and parsed.problem is None and parsed.region == config.location
    url = endpoint_url(config)
    # google-auth's AuthorizedSession is a requests session; the gRPC channel has its own rules.
    proxy = plaintext_proxy(url, client="requests" if config.transport == "rest" else "grpc")
    host = destination.host if destination is not None else config.host
    return Boundary(
        provider="vertex",
        location_kind="customer-cloud",
        region=config.location,
        network_path="http-proxy" if proxy and config.network_path is None else _network_path(config),
        endpoint=url,
        tls=not config.plaintext,
        retention=None,
        host=proxy or host,
        cloud="gcp" if parsed is not None else None,
        region_source="destination" if derived else "declared",
    )


def verified_boundary(config: VertexConfig, endpoint: Any) -> Boundary:
    """The boundary after reading ``endpoint`` (an ``aiplatform_v1.types.Endpoint``).

    :param config: the model's config (region and dedicated DNS are compared with it).
    :param endpoint: the Endpoint resource as returned by GetEndpoint.
    """
    attestations: list[Attestation] = []
    name = str(endpoint.name)
    region = name.split("/locations/", 1)[1].split("/", 1)[0] if "/locations/" in name else ""
    attestations.append(
        Attestation(
            name="vertex.endpoint.region", value=region or "unknown", ok=region == config.location, source=_SOURCE
        )
    )
    dedicated = bool(endpoint.dedicated_endpoint_enabled)
    dns = str(endpoint.dedicated_endpoint_dns or "")
    attestations.append(
        Attestation(name="vertex.endpoint.dedicated", value=dns if dedicated else "false", ok=dedicated, source=_SOURCE)
    )
    psc = bool(
        endpoint.private_service_connect_config.enable_private_service_connect
        or endpoint.enable_private_service_connect
    )
    attestations.append(
        Attestation(name="vertex.endpoint.private_service_connect", value=str(psc).lower(), ok=psc, source=_SOURCE)
    )
    if endpoint.network:
        attestations.append(
            Attestation(name="vertex.endpoint.vpc_network", value=str(endpoint.network), ok=True, source=_SOURCE)
        )
    logging = endpoint.predict_request_response_logging_config
    if logging.enabled:
        destination = logging.bigquery_destination.output_uri or "unset"
        value = f"enabled (sampling_rate={logging.sampling_rate:g}, bigquery={destination})"
    else:
        value = "disabled"
    attestations.append(
        Attestation(name="vertex.request_response_logging", value=value, ok=not logging.enabled, source=_SOURCE)
    )
    models = list(endpoint.deployed_models)
    if models:
        noisy = [m.id for m in models if not m.disable_container_logging]
        access = any(m.enable_access_logging for m in models)
        attestations.append(
            Attestation(
                name="vertex.container_logging",
                value="enabled on " + ", ".join(noisy) if noisy else "disabled",
                ok=not noisy,
                source=_SOURCE,
            )
        )
        attestations.append(
            Attestation(name="vertex.access_logging", value=str(access).lower(), ok=not access, source=_SOURCE)
        )
    if config.dedicated_endpoint_dns is not None:
        attestations.append(
            Attestation(
                name="vertex.endpoint.dedicated_dns_matches",
                value=dns or "none",
                ok=dns == config.dedicated_endpoint_dns,
                source=_SOURCE,
            )
        )
    network_path = _network_path(config)
    if config.network_path is None and network_path != "loopback":
        network_path = "private-service-connect" if psc else "dedicated-endpoint" if dedicated else network_path
    base = base_boundary(config)
    if base.network_path == "http-proxy":
        network_path = base.network_path
    return base.model_copy(
        update={
            "network_path": network_path,
            "retention": None if logging.enabled else "none",
            "attestations": tuple(attestations),
        }
    )


def read_endpoint(config: VertexConfig, credentials: Credentials | None, channel: Any = None) -> Any:
    """GetEndpoint through the sync EndpointService client (same host and transport as
    predictions, except that dedicated endpoints answer control-plane calls on the regional
    host)."""
    from google.cloud.aiplatform_v1.services.endpoint_service import EndpointServiceClient

    host = config.api_endpoint or (
        "aiplatform.googleapis.com" if config.location == "global" else f"{config.location}-aiplatform.googleapis.com"
    )
    owned = channel is None
    if config.transport == "grpc":
        from google.cloud.aiplatform_v1.services.endpoint_service.transports.grpc import EndpointServiceGrpcTransport

        if channel is None and config.insecure:
            import grpc

            channel = grpc.insecure_channel(host)
        if channel is not None:
            client = EndpointServiceClient(transport=EndpointServiceGrpcTransport(channel=channel))
        else:
            client = EndpointServiceClient(credentials=credentials, client_options={"api_endpoint": host})
    else:
        if config.insecure and "://" not in host:
            host = f"http://{host}"
        client = EndpointServiceClient(credentials=credentials, transport="rest", client_options={"api_endpoint": host})
    try:
        return client.get_endpoint(name=config.resource, retry=None, timeout=min(config.timeout, 30.0))
    finally:
        if owned:
            client.transport.close()  # type: ignore[no-untyped-call]
