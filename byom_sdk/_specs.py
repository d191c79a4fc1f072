"""The frozen spec objects plugins return from registration hooks.

Specs are dataclasses so fields can be added in later core versions without breaking
plugins that do not set them. Each carries the plugin API version it was written for; the
core accepts versions inside ``[MIN_API_VERSION, API_VERSION]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from ._middleware import Middleware
    from ._provider import Provider
    from ._tokenizer import Tokenizer
    from ._types import ModelInfo

__all__ = [
    "API_VERSION",
    "MIN_API_VERSION",
    "AuditSinkSpec",
    "BatchRunnerSpec",
    "DetectorSpec",
    "MiddlewareSpec",
    "ModelProviderSpec",
    "TokenizerSpec",
]

#: The plugin API version this core implements: 2 added ``Provider`` (``handle_*`` hooks);
#: version-1 plugins (``Model`` subclasses with underscore hooks) still load unchanged.
API_VERSION = 2
#: The oldest plugin API version this core still accepts.
MIN_API_VERSION = 1


class _NoConfig(BaseModel):
    """Placeholder schema for specs that take no configuration."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


@dataclass(frozen=True)
class ModelProviderSpec:
    """A model provider: ``factory(config)`` builds a :class:`Provider` (or, plugin API 1, a
    :class:`Model`) from a validated config.

    :param name: the ``provider = "..."`` value in byom.toml; unique across plugins.
    :param factory: called once per model alias with an instance of ``config_schema``.
    :param config_schema: pydantic model validating the alias's provider-specific keys.
    :param api_version: the plugin API version the plugin was written against.
    :param description: one line shown by ``byom plugins``.
    """

    name: str
    factory: Callable[[Any], Provider]
    config_schema: type[BaseModel] = _NoConfig
    api_version: int = API_VERSION
    description: str = ""


@dataclass(frozen=True)
class TokenizerSpec:
    """A tokenizer kind usable in a model's ``tokenizer = {kind = "..."}`` config."""

    name: str
    factory: Callable[[Any], Tokenizer]
    config_schema: type[BaseModel] = _NoConfig
    api_version: int = API_VERSION
    description: str = ""


@dataclass(frozen=True)
class DetectorSpec:
    """A trust-layer detector (PII, secrets, prompt injection, toxicity…).

    :param kinds: what it detects: ``"pii"`` detectors find spans to mask; ``"score"``
        detectors return per-category scores (injection, toxicity).
    :param factory: builds the detector, called once per Client.
    """

    name: str
    factory: Callable[[], Any]
    kinds: tuple[str, ...] = ("pii",)
    api_version: int = API_VERSION
    description: str = ""


@dataclass(frozen=True)
class AuditSinkSpec:
    """An audit sink: ``factory(config)`` returns an object with ``append`` / ``records``."""

    name: str
    factory: Callable[[Any], Any]
    config_schema: type[BaseModel] = _NoConfig
    api_version: int = API_VERSION
    description: str = ""


@dataclass(frozen=True)
class MiddlewareSpec:
    """Middleware composed once per model: ``factory(alias, info)`` → Middleware or None.

    :param order: lower runs outermost (first on the request, last on the response).
        The trust pipeline always runs innermost, after every plugin middleware.
    """

    name: str
    factory: Callable[[str, ModelInfo], Middleware | None]
    order: int = 0
    api_version: int = API_VERSION
    description: str = ""


@dataclass(frozen=True)
class BatchRunnerSpec:
    """A cloud batch runner (``byom batch run --runner NAME``): each record goes through
    the model's pipeline and codec as an online call would, and the encoded bodies are
    staged into shards that run as one cloud job each (see docs/batch.md).

    :param name: the runner's name; its options are the job's ``[name]`` table (``-`` may
        be written ``_``).
    :param provider: the model provider whose aliases it runs.
    :param factory: ``factory(model_config, runner_config, job_id=...)`` returns a
        :class:`byom_sdk.batch.StagedBackend`; called once per job, in the driver, with the
        alias's validated provider config and the job's table validated by ``config_schema``.
    :param config_schema: pydantic model validating the runner's table.
    """

    name: str
    provider: str
    factory: Callable[..., Any]
    config_schema: type[BaseModel] = _NoConfig
    api_version: int = API_VERSION
    description: str = ""
