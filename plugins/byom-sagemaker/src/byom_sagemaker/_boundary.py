"""Where a SageMaker endpoint's data goes: the destination boundary and control-plane checks.

The boundary is derived from the client botocore built, not from config: the runtime URL
it resolved (``client.meta.endpoint_url`` reflects ``endpoint_url=``,
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``, ``AWS_ENDPOINT_URL``, the config file's
``services`` section, FIPS and dual-stack) and the region requests are signed for
(``client.meta.region_name``). The trust gate parses the host and refuses a region the
host contradicts. A plain-HTTP runtime URL that botocore sends through a proxy (it reads
``HTTP_PROXY`` / ``NO_PROXY`` when the client is built) goes to that proxy in the clear:
the proxy is then the boundary's host, so a loopback URL behind a remote proxy is judged
as the remote host it really is. :func:`install_send_guard` then pins every request to that host, so
nothing can redirect a call after the gate passed it.

``verify_boundary`` adds facts read back from the SageMaker control plane —
DescribeEndpoint, DescribeEndpointConfig and DescribeModel — as :class:`Attestation`
records the trust layer can require, and sets ``retention = "none"`` only when data
capture was verified off.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from byom_sdk import Attestation, Boundary, PolicyViolation
from byom_sdk.trust.residency import parse_sagemaker_host, plaintext_proxy, same_destination, split_host

if TYPE_CHECKING:
    from ._config import SageMakerConfig

__all__ = [
    "DestinationChanged",
    "client_boundary",
    "declared_boundary",
    "install_send_guard",
    "network_path_of",
    "verify",
]

PROVIDER = "sagemaker"

#: The rule a redirected request is refused under (the gate's rule for destination checks).
RULE = "destination"

#: request URLs repeat per endpoint and operation: parse each once (the guard runs per request).
_split_url = functools.lru_cache(maxsize=256)(split_host)

_EVENT = "before-send.sagemaker-runtime"
_GUARD_ID = "byom-send-guard"
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/")


def network_path_of(url: str) -> str:
    """Describe the network path to a runtime URL from its host."""
    try:
        host = split_host(url)
    except ValueError:
        return "custom-endpoint"
    if host.kind == "loopback":
        return "loopback"
    parsed = parse_sagemaker_host(host.hostname)
    if parsed is not None and "vpce" in parsed.variants:
        return "aws-privatelink"
    if ".vpce." in host.hostname or host.hostname.startswith("vpce-"):
        return "aws-privatelink"
    if parsed is not None:
        return "aws-public-endpoint"
    return "custom-endpoint"


def declared_boundary(
    config: SageMakerConfig, runtime_url: str, signing_region: str | None = None, *, proxy: str | None = None
) -> Boundary:
    """The boundary of requests to ``runtime_url`` signed for ``signing_region``.

    :param runtime_url: the runtime URL botocore resolved (``client.meta.endpoint_url``).
    :param signing_region: the SigV4 scope region (``client.meta.region_name``).
    :param proxy: the proxy a plain-HTTP ``runtime_url`` is sent through: the host the
        gate judges instead of the URL's (the proxy reads every byte).
    """
    parsed = None
    try:
        host = split_host(runtime_url)
        if host.kind == "dns":
            parsed = parse_sagemaker_host(host.hostname)
    except ValueError:
        pass
    derived = parsed is not None and parsed.problem is None and parsed.region == config.region
    return Boundary(
        provider=PROVIDER,
        location_kind="customer-cloud",
        region=config.region,
        network_path=config.network_path or ("http-proxy" if proxy else network_path_of(runtime_url)),
        endpoint=f"{runtime_url.rstrip('/')}/endpoints/{config.endpoint_name}",
        tls=runtime_url.lower().startswith("https://"),
        retention=None,
        cloud="aws" if parsed is not None else None,
        region_source="destination" if derived else "declared",
        signing_region=signing_region,
        host=proxy,
    )


def _client_proxy(client: Any, runtime_url: str) -> str | None:
    """The proxy ``client`` sends a plain-HTTP ``runtime_url`` through: botocore's own
    choice (environment or ``Config(proxies=...)``, fixed when the client was built), else
    the environment by botocore's rules. TLS URLs are tunnelled, so none."""
    try:
        scheme = split_host(runtime_url).scheme
    except ValueError:
        return None  # the gate refuses the host itself
    if scheme != "http":
        return None
    proxy_config = getattr(getattr(getattr(client, "_endpoint", None), "http_session", None), "_proxy_config", None)
    if proxy_config is None:
        return plaintext_proxy(runtime_url, client="botocore")
    found = proxy_config.proxy_url_for(runtime_url)
    return str(found) if found else None


def client_boundary(config: SageMakerConfig, client: Any) -> Boundary:
    """The boundary of a built ``sagemaker-runtime`` client: where it will connect and the
    region it signs for, exactly as botocore resolved them."""
    runtime_url = str(client.meta.endpoint_url)
    return declared_boundary(
        config, runtime_url, str(client.meta.region_name), proxy=_client_proxy(client, runtime_url)
    )


class DestinationChanged(Exception):
    """A request was about to leave for a host (or signing region) other than the gated one.

    Raised by the send guard inside botocore, before any socket opens; the provider turns
    it into :class:`~byom_sdk.PolicyViolation` with :meth:`violation`.
    """

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual

    def violation(self, where: str) -> PolicyViolation:
        return PolicyViolation(f"{where}: refused by rule '{RULE}': {self}", rule=RULE)


def _scope_region(authorization: Any) -> str | None:
    if isinstance(authorization, bytes):
        authorization = authorization.decode("latin-1")
    match = _SCOPE.search(authorization) if isinstance(authorization, str) else None
    return match["region"] if match else None


def install_send_guard(client: Any, expected_host: str, *, signing_region: str | None = None) -> None:
    """Refuse any request of ``client`` whose URL leaves for another host than the gated one.

    Registers a botocore ``before-send`` handler, which runs after the request is signed
    and before the HTTP session opens a connection: a URL changed after the gate (an
    endpoint rule, a ``before-sign`` hook, a redirect of the region) raises
    :class:`DestinationChanged` and nothing is sent.

    :param expected_host: the gated destination, as a URL (scheme and port compared too)
        or ``host[:port]``.
    :param signing_region: also refuse a request whose SigV4 credential scope names
        another region.
    """
    try:
        expected = split_host(expected_host)
    except ValueError as exc:
        # The gate refuses such a host too; the guard must not be the weaker of the two.
        problem = str(exc)

        def refuse_all(request: Any, **_: Any) -> None:
            raise DestinationChanged(
                f"the gated host cannot be read unambiguously ({problem})", expected="(unreadable)", actual="?"
            )

        _register(client, refuse_all)
        return

    def guard(request: Any, **_: Any) -> None:
        url = str(request.url)
        try:
            actual = _split_url(url)
        except ValueError as exc:
            raise DestinationChanged(
                f"a request URL cannot be read unambiguously ({exc}); the gated host is {expected.host}",
                expected=expected.host,
                actual="(unreadable)",
            ) from None
        if expected.scheme is None:
            same = actual.hostname == expected.hostname and expected.port in (None, actual.effective_port)
        else:
            # A URL pins the scheme too: the gate passed TLS for this destination.
            same = same_destination(expected, actual) and actual.scheme == expected.scheme
        if not same:
            raise DestinationChanged(
                f"a request was about to go to {actual.scheme or 'host'}://{actual.host}, "
                f"not the gated {expected.scheme or 'host'}://{expected.host}",
                expected=expected.host,
                actual=actual.host,
            )
        if signing_region is not None:
            scope = _scope_region(request.headers.get("Authorization"))
            if scope is not None and scope != signing_region:
                raise DestinationChanged(
                    f"a request to {actual.host} was signed for region '{scope}', not the gated '{signing_region}'",
                    expected=signing_region,
                    actual=scope,
                )

    _register(client, guard)


def _register(client: Any, handler: Any) -> None:
    # One guard per client: a later install (a re-gated destination) replaces the earlier.
    events = client.meta.events
    events.unregister(_EVENT, unique_id=_GUARD_ID)
    events.register_first(_EVENT, handler, unique_id=_GUARD_ID)


def _capture(summary: dict[str, Any] | None) -> tuple[bool | None, str]:
    if not summary:
        return False, "off"
    enabled = summary.get("EnableCapture", True)  # "defaults to enabled" when configured
    if not enabled:
        return False, "off"
    where = summary.get("DestinationS3Uri") or summary.get("CurrentSamplingPercentage") or ""
    return True, f"on ({where})" if where else "on"


def verify(config: SageMakerConfig, control: Any, declared: Boundary) -> Boundary:
    """Read the endpoint back from the control plane and attach attestations.

    :param control: a boto3 ``sagemaker`` client (errors propagate for the caller to map).
    """
    source_ep = "sagemaker:DescribeEndpoint"
    source_cfg = "sagemaker:DescribeEndpointConfig"
    source_model = "sagemaker:DescribeModel"
    endpoint = control.describe_endpoint(EndpointName=config.endpoint_name)
    found: list[Attestation] = []
    status = str(endpoint.get("EndpointStatus", "unknown"))
    found.append(
        Attestation(
            name="sagemaker.endpoint_arn",
            value=str(endpoint.get("EndpointArn", "")),
            ok=bool(endpoint.get("EndpointArn")),
            source=source_ep,
        )
    )
    found.append(
        Attestation(name="sagemaker.endpoint_status", value=status, ok=status == "InService", source=source_ep)
    )
    arn_region = str(endpoint.get("EndpointArn", "")).split(":")[3:4]
    if arn_region:
        found.append(
            Attestation(
                name="sagemaker.region", value=arn_region[0], ok=arn_region[0] == config.region, source=source_ep
            )
        )

    endpoint_config = control.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    # The endpoint's live capture state wins over its config's; either being on means on.
    live_on, live_value = _capture(endpoint.get("DataCaptureConfig"))
    cfg_on, cfg_value = _capture(endpoint_config.get("DataCaptureConfig"))
    capture_on = bool(live_on or cfg_on)
    found.append(
        Attestation(
            name="sagemaker.data_capture",
            value=live_value if live_on else cfg_value,
            ok=not capture_on,
            source=f"{source_ep}+{source_cfg}",
        )
    )
    kms = endpoint_config.get("KmsKeyId")
    found.append(Attestation(name="sagemaker.kms_key", value=str(kms or "none"), ok=bool(kms), source=source_cfg))
    if endpoint_config.get("AsyncInferenceConfig"):
        found.append(
            Attestation(
                name="sagemaker.async_inference", value="on (payloads stored in S3)", ok=False, source=source_cfg
            )
        )

    models = sorted({v["ModelName"] for v in endpoint_config.get("ProductionVariants", ()) if v.get("ModelName")})
    if models:
        isolated, vpcs = [], []
        for name in models:
            model = control.describe_model(ModelName=name)
            isolated.append(bool(model.get("EnableNetworkIsolation")))
            vpc = model.get("VpcConfig") or {}
            vpcs.append(",".join(vpc.get("Subnets", ())) if vpc else "")
        found.append(
            Attestation(
                name="sagemaker.network_isolation",
                value=", ".join(f"{m}={'on' if on else 'off'}" for m, on in zip(models, isolated, strict=False)),
                ok=all(isolated),
                source=source_model,
            )
        )
        found.append(
            Attestation(
                name="sagemaker.vpc",
                value=", ".join(f"{m}={v or 'none'}" for m, v in zip(models, vpcs, strict=False)),
                ok=all(vpcs),
                source=source_model,
            )
        )
    else:
        # Inference-component endpoints name their models per component, not per variant.
        for name in ("sagemaker.network_isolation", "sagemaker.vpc"):
            found.append(
                Attestation(name=name, value="unknown (no model on the endpoint config)", ok=False, source=source_cfg)
            )
    return declared.model_copy(update={"retention": None if capture_on else "none", "attestations": tuple(found)})
