"""``AzureMLModel``: an Azure ML online endpoint — a codec over byom's HTTP transport."""

from __future__ import annotations

import os

from byom_sdk import Capabilities, ConfigError, ModelInfo
from byom_sdk.trust.residency import url_boundary
from byom_sdk.wire import HttpTransport, WireProvider
from byom_sdk.wire.openai import OpenAIChat

from ._codecs import ScoringCodec
from ._config import AzureMLConfig

__all__ = ["AzureMLModel"]


class AzureMLModel(WireProvider):
    def __init__(self, config: AzureMLConfig) -> None:
        # A key read from a secret file keeps its newline, and one copied from the studio may
        # carry its scheme: sent as is, httpx refuses the header (or the endpoint the key).
        key = (os.environ.get(config.api_key_env) or "").strip()
        if key[:7].lower() == "bearer ":
            key = key[7:].strip()
        if not key:
            raise ConfigError(
                f"environment variable '{config.api_key_env}' (the endpoint key) is not set", field="api_key_env"
            )
        headers = {"Authorization": f"Bearer {key}"}
        if config.deployment:
            headers["azureml-model-deployment"] = config.deployment
        url = config.root
        openai = config.api == "openai"
        route = "/v1/chat/completions" if openai else "/score"
        transport = HttpTransport(
            url,
            {"generate": route},
            headers=headers,
            timeout=config.timeout,
            connect_timeout=config.connect_timeout,
            provider="azureml",
        )
        info = ModelInfo(
            # The endpoint's name is the first label of its host (NAME.REGION.inference.ml...).
            id=config.model or config.deployment or (config.endpoint_url.host or url).split(".")[0],
            provider="azureml",
            capabilities=Capabilities(
                generate=True,
                chat=openai,
                stream=openai and config.stream,
                tools=openai and config.tools,
                stop_sequences=openai,
                seed=openai,
                max_context=config.max_context,
            ),
            boundary=url_boundary("azureml", url, region=config.region),
            description=f"Azure ML online endpoint {url} ({config.api})",
            # The deployment header pins it; without one the endpoint's traffic split picks.
            version=config.deployment,
        )
        codec = OpenAIChat(model=config.model) if openai else ScoringCodec()
        super().__init__(info, codec, transport, where=f"Azure ML endpoint {url}")
