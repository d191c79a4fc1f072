"""The provider's configuration: the keys of ``[models.ALIAS]`` besides the core ones."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from byom_sdk.trust.residency import redact_url

__all__ = ["PROVIDER", "OpenAICompatConfig"]

PROVIDER = "openai-compat"


class OpenAICompatConfig(BaseModel):
    """Configuration of an OpenAI-compatible server.

    :param base_url: the API root including ``/v1`` (``http://host:8000/v1``).
    :param model: the model name sent in every body (vLLM: the served model name).
    :param api: ``"chat"`` for ``/chat/completions`` (messages), ``"completions"`` for
        ``/completions`` (plain prompts; chat is rendered with the model's tokenizer).
    :param api_key: sent as ``Authorization: Bearer``. Write ``"${VAR}"`` in byom.toml to
        read it from the environment (there is no separate ``api_key_env`` key).
    :param stream: the server supports SSE streaming.
    :param stream_usage: send ``stream_options.include_usage`` (vLLM, llama.cpp, Ollama
        support it; switch off for servers that reject unknown keys).
    :param tools: the served model supports OpenAI tool calls.
    :param structured_output: the server honours ``response_format`` (vLLM, SGLang,
        llama.cpp and Ollama do); false makes the SDK emulate it.
    :param embedding_dimension: set to declare ``/v1/embeddings`` support with vectors of
        this size; ``embedding_model`` overrides the model name for it.
    :param timeout: read timeout in seconds (a request's own ``timeout`` lowers it).
    :param connect_timeout: TCP/TLS connect timeout in seconds.
    :param region: the region the server is in; the trust gate refuses a call whose host
        names another region (e.g. an Azure ML host in ``westeurope``).
    :param location_kind: deprecated for non-loopback hosts: the trust gate derives where
        the server runs from the host (a known cloud endpoint is ``customer-cloud``, any
        other host ``third-party`` unless the policy's ``trusted_endpoints`` says
        otherwise); setting it for such a host warns and has no effect. For a loopback
        server it is kept.
    :param retention: what the server keeps of prompts (``"none"`` only if you know it).
    :param headers: extra request headers; their values are secrets (an API gateway key,
        say) and never appear in reprs, errors or logs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    model: str = Field(min_length=1)
    api: Literal["chat", "completions"] = "chat"
    api_key: SecretStr | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    stream: bool = True
    stream_usage: bool = True
    tools: bool = False
    structured_output: bool = True
    max_context: int | None = Field(default=None, ge=1)
    embedding_dimension: int | None = Field(default=None, ge=1)
    embedding_model: str | None = None
    embedding_normalized: bool = False
    generate: bool = True
    timeout: float = Field(default=60.0, gt=0.0)
    connect_timeout: float = Field(default=5.0, gt=0.0)
    region: str | None = None
    location_kind: Literal["process", "customer-cloud", "third-party"] = "customer-cloud"
    network_path: str | None = None
    retention: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        shown = redact_url(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL like http://127.0.0.1:8000/v1, got {shown!r}")
        if parts.query or parts.fragment:
            # Paths are appended to base_url (a query would end up before them); keys go in
            # api_key or headers.
            raise ValueError(f"must be a URL with no query or fragment (put keys in api_key or headers), got {shown!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _something_to_do(self) -> OpenAICompatConfig:
        if not self.generate and self.embedding_dimension is None:
            raise ValueError("generate = false needs embedding_dimension (an embeddings-only model)")
        return self

    @property
    def tls(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def is_loopback(self) -> bool:
        host = urlsplit(self.base_url).hostname or ""
        return host in ("127.0.0.1", "localhost", "::1")
