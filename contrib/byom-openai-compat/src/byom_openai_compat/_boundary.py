"""Where an OpenAI-compatible server's data goes, derived from ``base_url``'s host and scheme.

The host decides, not the config: a loopback host is this machine (the configured
``location_kind`` is kept, and the trust policy must allow loopback); a known cloud
endpoint host (an Azure ML online endpoint, a Vertex AI host) is ``customer-cloud`` in the
region the host names; any other host is ``third-party`` unless the trust policy's
``trusted_endpoints`` vouches for it. TLS is what the scheme says. ``location_kind`` in
the config is deprecated for non-loopback hosts: it is ignored there, and setting it warns.
A plain-HTTP ``base_url`` that httpx sends through a proxy (``HTTP_PROXY`` / ``ALL_PROXY``,
less ``NO_PROXY``) is read in full by the proxy: the proxy is then the host the gate judges.
"""

from __future__ import annotations

import warnings

from byom_sdk import Boundary, LocationKind
from byom_sdk.trust.residency import derive_destination, plaintext_proxy, redact_url

from ._config import PROVIDER, OpenAICompatConfig

__all__ = ["destination_boundary"]


def destination_boundary(config: OpenAICompatConfig) -> Boundary:
    """The boundary of requests to ``config.base_url``."""
    try:
        destination = derive_destination(config.base_url)
    except ValueError:
        destination = None  # the gate refuses the endpoint by name
    loopback = destination is not None and destination.kind == "loopback"
    parsed = destination.cloud_host if destination is not None else None
    kind: LocationKind
    if loopback:
        kind = config.location_kind
    else:
        if "location_kind" in config.model_fields_set:
            warnings.warn(
                f"openai-compat: location_kind = {config.location_kind!r} is ignored for the non-loopback host "
                f"of {redact_url(config.base_url)!r}; the trust gate derives it from the host (use the policy's "
                "trusted_endpoints to vouch for a host)",
                DeprecationWarning,
                stacklevel=3,
            )
        kind = "customer-cloud" if parsed is not None and parsed.problem is None else "third-party"
    derived = parsed is not None and parsed.problem is None and parsed.region == config.region
    proxy = plaintext_proxy(config.base_url, client="httpx")
    return Boundary(
        provider=PROVIDER,
        location_kind=kind,
        region=config.region,
        network_path=config.network_path or ("http-proxy" if proxy else "loopback" if loopback else "network"),
        endpoint=config.base_url,
        tls=config.tls,
        retention=config.retention,
        cloud=parsed.cloud if parsed is not None else None,
        region_source="destination" if derived else "declared",
        host=proxy,
    )
