"""Where a SageMaker endpoint's data goes: the declared boundary and control-plane checks.

The declared boundary comes from config alone (region, runtime URL, TLS, network path).
``verify_boundary`` adds facts read back from the SageMaker control plane — DescribeEndpoint,
DescribeEndpointConfig and DescribeModel — as :class:`Attestation` records the trust layer
can require, and sets ``retention = "none"`` only when data capture was verified off.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from byom_sdk import Attestation, Boundary

if TYPE_CHECKING:
    from ._config import SageMakerConfig

__all__ = ["declared_boundary", "network_path_of", "verify"]

PROVIDER = "sagemaker"


def network_path_of(url: str) -> str:
    """Describe the network path to a runtime URL from its host."""
    host = urlsplit(url).hostname or ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return "loopback"
    except ValueError:
        if host == "localhost":
            return "loopback"
    if ".vpce." in host or host.startswith("vpce-"):
        return "aws-privatelink"
    if host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        return "aws-public-endpoint"
    return "custom-endpoint"


def declared_boundary(config: SageMakerConfig, runtime_url: str) -> Boundary:
    """The boundary as configured, before any control-plane check."""
    return Boundary(
        provider=PROVIDER,
        location_kind="customer-cloud",
        region=config.region,
        network_path=config.network_path or network_path_of(runtime_url),
        endpoint=f"{runtime_url}/endpoints/{config.endpoint_name}",
        tls=urlsplit(runtime_url).scheme == "https",
        retention=None,
    )


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
