"""The keys of a ``provider = "azureml"`` model."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

__all__ = ["AzureMLConfig"]

# What users paste after the endpoint's root: the studio shows the scoring route as the
# "REST endpoint" (``.../score``), OpenAI-style deployments document ``.../v1/chat/completions``.
# The plugin appends its own route, so a pasted one would be sent twice (``/score/score``).
_ROUTE_SUFFIXES = ("/v1/chat/completions", "/v1", "/score")


class AzureMLConfig(BaseModel):
    """An Azure ML managed online endpoint: ``endpoint_url`` is its root
    (``https://NAME.REGION.inference.ml.azure.com``; the studio's REST endpoint ending in
    ``/score``, or one ending in ``/v1`` or ``/v1/chat/completions``, is taken as that root),
    checked by the gate against ``region``; ``api`` is ``openai`` (``/v1/chat/completions``)
    or ``scoring`` (``/score``); ``deployment`` is sent as ``azureml-model-deployment``; the
    key (or an Entra token) is read from ``api_key_env``; ``model`` is the OpenAI ``model``
    field; ``tools`` declares OpenAI tool calls."""

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

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_root(cls, value: HttpUrl) -> HttpUrl:
        # Routes are appended to the URL: a query would end up before them, and userinfo
        # (never used by Azure ML, whose key goes in api_key_env) would show in the model's
        # id, description and errors. Neither can be meant, so both are refused by name.
        if value.query or value.fragment:
            raise ValueError("must be the endpoint's root URL, with no query or fragment")
        if value.username or value.password:
            raise ValueError("must not carry user:password@ (the key is read from api_key_env)")
        parts = urlsplit(str(value))
        path = parts.path.rstrip("/")
        for suffix in _ROUTE_SUFFIXES:
            if path.endswith(suffix):
                path = path[: -len(suffix)]
                break
        return HttpUrl(urlunsplit((parts.scheme, parts.netloc, path, "", "")))

    @property
    def root(self) -> str:
        """The endpoint's root without a trailing slash: the routes are appended to it."""
        return str(self.endpoint_url).rstrip("/")
