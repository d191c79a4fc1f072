"""The keys of a ``provider = "azureml"`` model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

__all__ = ["AzureMLConfig"]


class AzureMLConfig(BaseModel):
    """An Azure ML managed online endpoint: ``endpoint_url`` is its root
    (``https://NAME.REGION.inference.ml.azure.com``), checked by the gate against ``region``;
    ``api`` is ``openai`` (``/v1/chat/completions``) or ``scoring`` (``/score``); ``deployment``
    is sent as ``azureml-model-deployment``; the key (or an Entra token) is read from
    ``api_key_env``; ``model`` is the OpenAI ``model`` field; ``tools`` declares OpenAI tool calls."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: HttpUrl
    region: str | None = None
    api: Literal["openai", "scoring"] = "openai"
    deployment: str | None = Field(default=None, min_length=1)
    api_key_env: str = "AZUREML_API_KEY"
    model: str | None = None
    stream: bool = True
    tools: bool = False
    max_context: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=90.0, gt=0.0)
    connect_timeout: float = Field(default=5.0, gt=0.0)
