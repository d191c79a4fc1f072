"""The ``[serve]`` table of byom.toml, API keys and the port the platform asks for.

::

    [serve]
    profile = "openai"                # openai | open-connector | sagemaker | vertex | all
    models = ["support-bot"]          # aliases to serve (default: every model)
    request_timeout = 60              # seconds per request, its body upload included (408 past it)
    max_body_bytes = 6291456          # 413 above this (SageMaker's own limit)
    max_header_bytes = 65536          # 431 (414 for the target) above this; the connection closes
    max_batch = 32                    # most model calls one container request may fan out to
    drain_timeout = 25                # seconds SIGTERM waits for in-flight streams

    [[serve.api_keys]]
    name = "einstein"                 # label in the audit record (never the key itself)
    key_env = "BYOM_KEY_EINSTEIN"     # or key = "${BYOM_KEY_EINSTEIN}", or key_sha256 = "<hex>"
    tenant = "acme"
    user = "einstein-studio"
    models = ["support-bot"]          # optional: the models this key may call

Keys are visible ASCII (``!`` to ``~``) with no surrounding whitespace: anything else could
never be presented in a header, so it is refused when the key is loaded. They are kept only
as SHA-256 digests, and a presented key is compared with every digest
(``hmac.compare_digest``, no early exit), so neither a key's content nor which entry matched
shows in the response time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from byom_sdk import ConfigError
from byom_sdk._validation import describe_validation_error

__all__ = [
    "PROFILES",
    "ApiKey",
    "Identity",
    "KeyRing",
    "Profile",
    "ServeSettings",
    "expand_profiles",
    "load_settings",
    "resolve_port",
]

Profile = Literal["openai", "open-connector", "sagemaker", "vertex", "all"]
PROFILES: tuple[str, ...] = ("openai", "open-connector", "sagemaker", "vertex")
#: shortest plain key accepted: anything shorter is guessable.
MIN_KEY_LENGTH = 12
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: what a key may hold: a header value carries it verbatim only if it is visible ASCII
#: (RFC 9110 field-vchar minus obs-text; RFC 6750 tokens are narrower still).
_VISIBLE_ASCII = re.compile(r"[!-~]+")


class ApiKey(BaseModel):
    """One caller: a key (given exactly one way) and who the calls are on behalf of."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    key: str | None = Field(default=None, repr=False)
    key_env: str | None = None
    key_sha256: str | None = None
    tenant: str
    user: str | None = None
    models: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _one_key(self) -> ApiKey:
        given = [n for n in ("key", "key_env", "key_sha256") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'key', 'key_env' or 'key_sha256'")
        if self.key is not None and len(self.key) < MIN_KEY_LENGTH:
            raise ValueError(f"'key' is shorter than {MIN_KEY_LENGTH} characters")
        if self.key_sha256 is not None and not _HEX64.match(self.key_sha256.lower()):
            raise ValueError("'key_sha256' must be 64 hexadecimal characters")
        return self

    def digest(self, environ: Mapping[str, str], *, entry: str | None = None) -> bytes:
        """The SHA-256 of the key (reads ``key_env`` now).

        :param entry: how errors name this key entry (its ``name``, else its position).
        :raises ConfigError: the environment variable is missing, or the key is too short,
            has surrounding whitespace or a character no HTTP client can send (the message
            names the entry and ``key_env``, never the key).
        """
        if self.key_sha256 is not None:
            return bytes.fromhex(self.key_sha256)
        label = f"API key '{entry or self.name or '?'}'"
        secret = self.key
        field = "serve.api_keys.key"
        source = "its 'key'"
        if self.key_env is not None:
            field = "serve.api_keys.key_env"
            source = f"environment variable '{self.key_env}'"
            secret = environ.get(self.key_env)
            if not secret:
                raise ConfigError(f"{label}: {source} is not set", field=field)
            if len(secret) < MIN_KEY_LENGTH:
                raise ConfigError(
                    f"{label}: the key in {source} is shorter than {MIN_KEY_LENGTH} characters", field=field
                )
        assert secret is not None  # the validator guarantees one source
        if secret != secret.strip():
            raise ConfigError(
                f"{label}: the key in {source} has leading or trailing whitespace (a newline from "
                "`echo $KEY > file`?); no client can present it: strip it",
                field=field,
            )
        if not _VISIBLE_ASCII.fullmatch(secret):
            raise ConfigError(
                f"{label}: the key in {source} holds a space, a control character or a non-ASCII character; "
                "HTTP headers carry only visible ASCII (! to ~), so no client could present it",
                field=field,
            )
        return hashlib.sha256(secret.encode()).digest()


class ServeSettings(BaseModel):
    """Everything ``[serve]`` may set; CLI flags override ``profile``, ``models``, host and port."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: Profile | tuple[Profile, ...] = "openai"
    models: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    api_keys: tuple[ApiKey, ...] = ()
    #: serve the OpenAI and Open Connector routes without keys (local development only).
    allow_unauthenticated: bool = False
    #: headers a key may arrive in: ``Authorization: Bearer`` and Salesforce's ``api-key``.
    key_headers: tuple[str, ...] = ("authorization", "api-key")
    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1024)
    #: request line plus header fields: 414 / 431 above it, then the connection closes
    #: (httptools itself has no limit; nginx allows 32 KiB, Node 16 KiB).
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    #: most model calls one container request may fan out to (TGI and JumpStart ``inputs``
    #: lists, llama-chat dialogs, Vertex ``instances``): 422 (SageMaker) / 400 (Vertex) above.
    max_batch: int = Field(default=32, ge=1, le=1024)
    request_timeout: float = Field(default=60.0, gt=0)
    drain_timeout: float = Field(default=25.0, ge=0)
    #: most completions one request may ask for (``n``); each is its own audited call.
    max_n: int = Field(default=8, ge=1, le=128)
    #: tenant recorded for the container routes (SageMaker, Vertex), which carry no key:
    #: the platform's IAM authenticated the caller before the request reached us.
    container_tenant: str | None = None

    @field_validator("key_headers", mode="after")
    @classmethod
    def _lower_key_headers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Header names are case-insensitive (RFC 9110 §5.1): "Authorization" is the same
        # header as "authorization" and must get its Bearer scheme stripped the same way.
        return tuple(dict.fromkeys(name.strip().lower() for name in value if name.strip()))

    @property
    def profiles(self) -> tuple[str, ...]:
        return expand_profiles(self.profile)


def expand_profiles(profile: str | Sequence[str]) -> tuple[str, ...]:
    """``"all"`` → every profile; checks each name."""
    names = [profile] if isinstance(profile, str) else list(profile)
    out: list[str] = []
    for name in names:
        if name == "all":
            out.extend(PROFILES)
        elif name in PROFILES:
            out.append(name)
        else:
            raise ConfigError(f"unknown profile '{name}' (known: {', '.join((*PROFILES, 'all'))})", field="profile")
    return tuple(dict.fromkeys(out))


def load_settings(path: str | Path | None) -> ServeSettings:
    """The ``[serve]`` table of ``path`` (defaults when the file has none).

    :raises ConfigError: naming the file and the field.
    """
    if path is None:
        return ServeSettings()
    from .._config import interpolate, load_config_file

    data = load_config_file(path)
    raw = data.get("serve") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("[serve] must be a table", source=str(path), field="serve")
    raw = interpolate(dict(raw), source=str(path), alias=None, path="serve")
    try:
        return ServeSettings.model_validate(raw)
    except ValidationError as exc:
        field, message = describe_validation_error(exc, prefix="serve")
        raise ConfigError(message, source=str(path), field=field) from None


@dataclass(frozen=True)
class Identity:
    """Who a request is for, as the audit record will say."""

    tenant: str | None
    user: str | None
    name: str | None
    models: frozenset[str] | None = None

    def may_use(self, alias: str) -> bool:
        return self.models is None or alias in self.models


class KeyRing:
    """The configured keys as digests, looked up in constant time."""

    def __init__(self, keys: Sequence[ApiKey], *, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._entries: list[tuple[bytes, Identity]] = []
        for index, key in enumerate(keys):
            identity = Identity(
                tenant=key.tenant,
                user=key.user,
                name=key.name or f"key-{index + 1}",
                models=frozenset(key.models) if key.models is not None else None,
            )
            self._entries.append((key.digest(env, entry=identity.name), identity))

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, presented: str) -> Identity | None:
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found: Identity | None = None
        for expected, identity in self._entries:
            # Every entry is compared: the time taken does not say which one matched.
            if hmac.compare_digest(digest, expected) and found is None:
                found = identity
        return found


def resolve_port(profiles: Sequence[str], flag: int | None, settings: ServeSettings, environ: Mapping[str, str]) -> int:
    """The platform's port first (it decides where traffic arrives), then ``--port``, then
    ``[serve] port``: ``SAGEMAKER_BIND_TO_PORT`` for sagemaker, ``AIP_HTTP_PORT`` for vertex."""
    for profile, variable in (("sagemaker", "SAGEMAKER_BIND_TO_PORT"), ("vertex", "AIP_HTTP_PORT")):
        value = environ.get(variable)
        if profile in profiles and value:
            try:
                port = int(value)
            except ValueError:
                raise ConfigError(f"{variable}={value!r} is not a port number", field=variable) from None
            if not 0 <= port <= 65535:
                raise ConfigError(f"{variable}={value!r} is not a port number", field=variable)
            return port
    if flag is not None:
        return flag
    return settings.port


def describe_settings_error(error: ValidationError) -> str:
    """One line for a ``ServeSettings`` validation failure (``create_app`` with a mapping)."""
    return describe_validation_error(error, prefix="serve")[1]


def settings_from(value: ServeSettings | Mapping[str, Any] | None) -> ServeSettings:
    if isinstance(value, ServeSettings):
        return value
    try:
        return ServeSettings.model_validate(dict(value or {}))
    except ValidationError as exc:
        raise ConfigError(describe_settings_error(exc)) from None
