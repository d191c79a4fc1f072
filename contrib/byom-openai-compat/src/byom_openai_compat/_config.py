"""The provider's configuration: the keys of ``[models.ALIAS]`` besides the core ones."""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from byom_sdk.trust.residency import redact_url

__all__ = ["PROVIDER", "OpenAICompatConfig"]

PROVIDER = "openai-compat"

#: the query keys base_url may carry: Azure OpenAI's API version, which is no secret.
_QUERY_KEYS = frozenset({"api-version"})


class OpenAICompatConfig(BaseModel):
    """Configuration of an OpenAI-compatible server.

    :param base_url: the API root including ``/v1`` (``http://host:8000/v1``). Azure
        OpenAI's ``?api-version=`` (the only query allowed) is sent with every route;
        userinfo is sent as HTTP Basic auth and never shown.
    :param model: the model name sent in every body (vLLM: the served model name).
    :param api: ``"chat"`` for ``/chat/completions`` (messages), ``"completions"`` for
        ``/completions`` (plain prompts; chat is rendered with the model's tokenizer).
    :param api_key: sent as ``Authorization: Bearer``. Write ``"${VAR}"`` in byom.toml to
        read it from the environment (there is no separate ``api_key_env`` key). Surrounding
        whitespace and a leading ``Bearer`` are dropped; an empty key (``"${VAR:-}"`` with
        ``VAR`` unset) means no key.
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
        parts = urlsplit(value.strip())
        shown = redact_url(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL like http://127.0.0.1:8000/v1, got {shown!r}")
        keys = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
        if parts.fragment or keys - _QUERY_KEYS:
            # A key in the URL would be logged by every proxy on the way: keys go in api_key
            # or headers.
            raise ValueError(
                "must be a URL with no query or fragment other than ?api-version= (put keys in api_key or "
                f"headers), got {shown!r}"
            )
        # ?api-version= stays (Azure OpenAI needs it on every call); the model appends it
        # after each route, so only the path's trailing slash goes.
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), parts.query, ""))

    @field_validator("api_key")
    @classmethod
    def _bare_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        # "${VAR:-}" with VAR unset gives "": sent as "Bearer " httpx refuses the header and
        # every call fails. A key read from a secret file keeps its newline, and keys copied
        # from a portal often carry the scheme: neither can be sent as is.
        key = value.get_secret_value().strip()
        if key[:7].lower() == "bearer ":
            key = key[7:].strip()
        return SecretStr(key) if key else None

    @model_validator(mode="after")
    def _one_authorization(self) -> OpenAICompatConfig:
        # HTTP header names are case-insensitive: "authorization" in headers next to api_key
        # would send two Authorization headers, and which one the server reads is luck.
        if self.api_key is not None and any(name.lower() == "authorization" for name in self.headers):
            raise ValueError("give the key either as api_key or as an Authorization header in headers, not both")
        return self

    @model_validator(mode="after")
    def _something_to_do(self) -> OpenAICompatConfig:
        if not self.generate and self.embedding_dimension is None:
            raise ValueError("generate = false needs embedding_dimension (an embeddings-only model)")
        return self

    @property
    def root(self) -> str:
        """``base_url`` without its query: the routes are appended to it."""
        parts = urlsplit(self.base_url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    @property
    def query(self) -> str:
        """``base_url``'s query with its ``?`` (``""`` without one): sent with every route."""
        query = urlsplit(self.base_url).query
        return f"?{query}" if query else ""

    @property
    def tls(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def is_loopback(self) -> bool:
        host = urlsplit(self.base_url).hostname or ""
        return host in ("127.0.0.1", "localhost", "::1")
