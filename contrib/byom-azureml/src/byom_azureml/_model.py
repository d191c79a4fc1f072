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
        key = os.environ.get(config.api_key_env)
        if not key:
            raise ConfigError(
                f"environment variable '{config.api_key_env}' (the endpoint key) is not set", field="api_key_env"
            )
        headers = {"Authorization": f"Bearer {key}"}
        if config.deployment:
            headers["azureml-model-deployment"] = config.deployment
        url = str(config.endpoint_url).rstrip("/")
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
            id=config.model or config.deployment or url.split("//")[-1].split(".")[0],
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
