"""The Client: model aliases from config, each built by its plugin and wrapped once with
plugin middleware, the trust pipeline and the retry policy."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from ._config import ModelEntry, describe_validation_error, load_config_file, parse_model_entry
from ._errors import ByomError, ConfigError, PluginError
from ._managed import ManagedModel
from ._middleware import Middleware
from ._model import Model
from ._plugins import Registry, get_registry
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from ._tokenizer import Tokenizer
    from .trust import TrustPolicy, TrustRuntime

__all__ = ["Client"]

_INLINE = "<Client(models=...)>"


class Client:
    """Hands out models by alias; every model it returns is guarded by the trust layer.

    :param models: alias → model config (a mapping with ``provider`` and the provider's
        keys, see :mod:`byom_sdk._config`) or a ready :class:`Model` instance.
    :param policy: the trust policy (a ``TrustPolicy`` or the ``[trust]`` mapping).
    :param retry: the default retry policy (per-model ``retry`` overrides it).
    :param trust: ``"on"`` (default). ``"off"`` disables masking and the gate for local
        development only; each call is still audited as unguarded.
    :param registry: plugin registry; defaults to the process-wide one (loaded lazily).
    """

    def __init__(
        self,
        models: Mapping[str, Mapping[str, Any] | Model] | None = None,
        *,
        policy: TrustPolicy | Mapping[str, Any] | None = None,
        retry: RetryPolicy | Mapping[str, Any] | None = None,
        trust: Literal["on", "off"] = "on",
        registry: Registry | None = None,
        source: str = _INLINE,
        config_dir: Path | None = None,
    ) -> None:
        if trust not in ("on", "off"):
            raise ConfigError("trust must be 'on' or 'off'", source=source, field="trust")
        self.source = source
        self._config_dir = config_dir
        self.registry = registry or get_registry()
        try:
            self.retry = retry if isinstance(retry, RetryPolicy) else RetryPolicy.model_validate(retry or {})
        except ValidationError as exc:
            field, message = describe_validation_error(exc, prefix="retry")
            raise ConfigError(message, source=source, field=field) from None
        self._entries: dict[str, ModelEntry] = {}
        self._instances: dict[str, Model] = {}
        self._provider_configs: dict[str, Any] = {}
        for alias, value in (models or {}).items():
            if isinstance(value, Model):
                self._instances[alias] = value
            else:
                entry = parse_model_entry(alias, value, source=source)
                self._entries[alias] = entry
                self._validate_provider_config(entry)
        self._trust_mode = trust
        self._policy_input = policy
        self._trust: TrustRuntime | None = None
        self._built: dict[str, ManagedModel] = {}
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_config(
        cls,
        path: str | Path = "byom.toml",
        *,
        trust: Literal["on", "off"] = "on",
        registry: Registry | None = None,
        only: Collection[str] | None = None,
    ) -> Client:
        """Build a Client from a byom.toml file.

        :param only: validate and offer just these aliases (a tool that needs one model is
            not stopped by another model's config); unknown names are a ``ConfigError``.
        """
        path = Path(path)
        data = load_config_file(path)
        models = data.get("models", {})
        if only is not None:
            missing = [alias for alias in only if alias not in models]
            if missing:
                raise ConfigError(
                    f"no model named '{missing[0]}' (configured: {', '.join(sorted(models)) or 'none'})",
                    source=str(path),
                )
            models = {alias: models[alias] for alias in only}
        return cls(
            models,
            policy=data.get("trust"),
            retry=data.get("retry"),
            trust=trust,
            registry=registry,
            source=str(path),
            config_dir=path.resolve().parent,
        )

    # -- validation -----------------------------------------------------------------------

    def _validate_provider_config(self, entry: ModelEntry) -> None:
        self.registry.load()
        spec = self.registry.providers.get(entry.provider)
        if spec is None:
            return  # reported by model(alias), citing the plugin failure if there was one
        context = {"config_dir": self._config_dir, "alias": entry.alias}
        try:
            self._provider_configs[entry.alias] = spec.config_schema.model_validate(entry.options, context=context)
        except ValidationError as exc:
            field, message = describe_validation_error(exc)
            raise ConfigError(
                f"{message} (provider '{entry.provider}')", source=self.source, alias=entry.alias, field=field
            ) from None

    # -- trust ----------------------------------------------------------------------------

    @property
    def trust(self) -> TrustRuntime:
        """The trust runtime shared by this Client's models (policy, vault, audit)."""
        if self._trust is None:
            from .trust import TrustRuntime

            self._trust = TrustRuntime.create(
                self._policy_input, registry=self.registry, enabled=self._trust_mode == "on", source=self.source
            )
        return self._trust

    # -- models ---------------------------------------------------------------------------

    @property
    def aliases(self) -> list[str]:
        return sorted({*self._entries, *self._instances})

    def entry(self, alias: str) -> ModelEntry | None:
        return self._entries.get(alias)

    def model(self, alias: str) -> ManagedModel:
        """The model called ``alias``, built on first use and reused afterwards."""
        if self._closed:
            raise ByomError("client is closed")
        built = self._built.get(alias)
        if built is not None:
            return built
        with self._lock:
            built = self._built.get(alias)
            if built is None:
                built = self._build(alias)
                self._built[alias] = built
        return built

    def provider_model(self, alias: str) -> Model:
        """A new instance of the plugin's own model for ``alias``, without middleware, trust
        or retries — for conformance testing and debugging a plugin. The caller closes it."""
        entry = self._entries.get(alias)
        if entry is None:
            if alias in self._instances:
                raise ConfigError(f"model '{alias}' was given as an instance; it has no provider config")
            raise ConfigError(
                f"no model named '{alias}' (configured: {', '.join(self.aliases) or 'none'})", source=self.source
            )
        spec = self.registry.provider(entry.provider)
        if alias not in self._provider_configs:
            self._validate_provider_config(entry)
        try:
            inner = spec.factory(self._provider_configs[alias])
        except ByomError:
            raise
        except Exception as exc:
            raise PluginError(
                f"provider '{entry.provider}' failed to build model '{alias}': {type(exc).__name__}: {exc}",
                plugin=entry.provider,
            ) from exc
        if not isinstance(inner, Model):
            raise PluginError(
                f"provider '{entry.provider}' factory returned {type(inner).__name__}, expected a byom_sdk.Model",
                plugin=entry.provider,
            )
        return inner

    def _build(self, alias: str) -> ManagedModel:
        entry = self._entries.get(alias)
        tokenizer: Tokenizer | None = None
        retry = self.retry
        trust_override: Mapping[str, Any] | None = None
        if entry is None and alias in self._instances:
            inner = self._instances[alias]
        else:
            inner = self.provider_model(alias)
            assert entry is not None  # provider_model raised otherwise
            tokenizer = self._tokenizer_for(entry)
            retry = entry.retry or self.retry
            trust_override = entry.trust
        info = inner.info
        middleware: list[Middleware] = []
        for mw_spec in self.registry.middleware_specs():
            try:
                built_mw = mw_spec.factory(alias, info)
            except Exception as exc:
                raise PluginError(
                    f"middleware '{mw_spec.name}' failed for model '{alias}': {type(exc).__name__}: {exc}",
                    plugin=mw_spec.name,
                ) from exc
            if built_mw is not None:
                middleware.append(built_mw)
        middleware.append(self.trust.middleware_for(alias, inner, override=trust_override))
        return ManagedModel(alias, inner, middleware=middleware, retry=retry, tokenizer=tokenizer)

    def _tokenizer_for(self, entry: ModelEntry) -> Tokenizer | None:
        if entry.tokenizer is None:
            return None
        options = dict(entry.tokenizer)
        kind = str(options.pop("kind", "hf"))
        spec = self.registry.tokenizer(kind)
        try:
            config = spec.config_schema.model_validate(options, context={"config_dir": self._config_dir})
        except ValidationError as exc:
            field, message = describe_validation_error(exc, prefix="tokenizer")
            raise ConfigError(message, source=self.source, alias=entry.alias, field=field) from None
        if self._config_dir is not None and hasattr(config, "path") and not Path(config.path).is_absolute():
            config = config.model_copy(update={"path": self._config_dir / config.path})
        try:
            return spec.factory(config)
        except ConfigError as exc:
            raise ConfigError(exc.message, source=self.source, alias=entry.alias, field=exc.field) from None

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close every model this client built, and the trust runtime."""
        if self._closed:
            return
        self._closed = True
        for model in self._built.values():
            model.close()
        if self._trust is not None:
            self._trust.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
