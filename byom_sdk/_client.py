"""The Client: model aliases from config, each built by its plugin and served through one
call pipeline.

A model's pipeline, outermost step first::

    telemetry → audit → gate → plugin middleware (by order) → scoring → structured output
      → masking → tokenizer (context check, usage) → retry/deadline → provider

The gate refuses before plugin middleware runs; masking sees exactly what plugin
middleware made of the request, so what leaves is what was masked; the audit wraps
everything but the span, so its outcome is the one the caller sees.
"""

from __future__ import annotations

import asyncio
import difflib
import threading
from collections.abc import Collection, Hashable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from ._config import ModelEntry, describe_validation_error, load_config_file, parse_model_entry
from ._errors import ByomError, ConfigError, PluginError
from ._executors import DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_CONCURRENCY, Executors
from ._facade import ManagedModel
from ._middleware import Middleware
from ._pipeline import Pipeline
from ._plugins import Registry, get_registry
from ._provider import Provider
from ._retry import RetryPolicy
from ._streams import AsyncStream, SyncStream
from ._structured_step import StructuredStep
from ._tokens import TokenizerMiddleware
from ._validation import did_you_mean, no_model_named

if TYPE_CHECKING:
    from ._tokenizer import Tokenizer
    from .routing import RouteConfig
    from .trust import TrustPolicy, TrustRuntime

__all__ = ["Client"]

_INLINE = "<Client(models=...)>"


class Client:
    """Hands out models by alias; every model it returns is guarded by the trust layer.

    :param models: alias → model config (a mapping with ``provider`` and the provider's
        keys, see :mod:`byom_sdk._config`) or a ready :class:`Provider` instance.
    :param policy: the trust policy (a ``TrustPolicy`` or the ``[trust]`` mapping).
    :param retry: the default retry policy (per-model ``retry`` overrides it).
    :param trust: ``"on"`` (default). ``"off"`` disables masking and the gate for local
        development only; each call is still audited as unguarded.
    :param registry: plugin registry; defaults to the process-wide one (loaded lazily).
    :param max_concurrency: threads serving async calls to sync-only providers (and how
        many such calls run at once); ``[client] max_concurrency`` in byom.toml.
    :param routes: route name → ``[routes.NAME]`` table (see :mod:`byom_sdk.routing`):
        ``model(name)`` then returns a model served by the route's targets.

    The trust runtime is built, and its audit store opened and checked, here: a policy or
    store that cannot work fails now, before any prompt is sent.
    """

    def __init__(
        self,
        models: Mapping[str, Mapping[str, Any] | Provider] | None = None,
        *,
        policy: TrustPolicy | Mapping[str, Any] | None = None,
        retry: RetryPolicy | Mapping[str, Any] | None = None,
        trust: Literal["on", "off"] = "on",
        registry: Registry | None = None,
        source: str = _INLINE,
        config_dir: Path | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        routes: Mapping[str, Mapping[str, Any]] | None = None,
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
        if not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool) or max_concurrency < 1:
            raise ConfigError(
                f"must be a positive integer, got {max_concurrency!r}", source=source, field="client.max_concurrency"
            )
        self._entries: dict[str, ModelEntry] = {}
        self._instances: dict[str, Provider] = {}
        self._provider_configs: dict[str, Any] = {}
        if models is not None and not isinstance(models, Mapping):
            raise ConfigError(
                f"models must be a mapping of alias to model table or Provider, not {type(models).__name__}",
                source=source,
                field="models",
            )
        for alias, value in (models or {}).items():
            if not isinstance(alias, str):
                raise ConfigError(f"model aliases are strings, not {type(alias).__name__} ({alias!r})", source=source)
            if isinstance(value, Provider):
                self._instances[alias] = value
            else:
                entry = parse_model_entry(alias, value, source=source)
                self._entries[alias] = entry
                self._validate_provider_config(entry)
        self._routes: dict[str, RouteConfig] = {}
        if routes:
            from .routing import parse_routes

            self._routes = parse_routes(routes, models={*self._entries, *self._instances}, source=source)
        self._trust_mode = trust
        self._policy_input = policy
        self._trust: TrustRuntime | None = None
        self._built: dict[str, ManagedModel] = {}
        # Re-entrant: building a route builds its target models.
        self._lock = threading.RLock()
        self._closed = False
        self.executors = Executors(max_concurrency, name="byom")
        self.trust.open()
        try:
            for name in self._routes:
                # Routes are built now, so a target outside the trust policy fails here,
                # not at the first call that would fail over to it.
                self.model(name)
        except BaseException:
            self.close()
            raise

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
            not stopped by another model's config); unknown names are a ``ConfigError``. A
            route named here brings the aliases it sends to.
        """
        data = load_config_file(path)  # as given: an empty path is named as empty, not as "."
        path = Path(path)
        models = data.get("models", {})
        settings = data.get("client") or {}
        if not isinstance(settings, Mapping):
            raise ConfigError("[client] must be a table", source=str(path), field="client")
        unknown = sorted(set(settings) - {"max_concurrency"})
        if unknown:
            raise ConfigError(
                f"unknown key '{unknown[0]}' (known: max_concurrency)", source=str(path), field=f"client.{unknown[0]}"
            )
        routes = data.get("routes") or {}
        if isinstance(only, str):
            only = (only,)  # one alias, not its characters
        if only is not None:
            missing = [alias for alias in only if alias not in models and alias not in routes]
            if missing:
                raise ConfigError(no_model_named(missing[0], {*models, *routes}), source=str(path))
            routes = {name: routes[name] for name in only if name in routes}
            wanted = {alias for alias in only if alias in models}
            if routes:
                from .routing._build import route_aliases

                for name, table in routes.items():
                    wanted |= route_aliases(name, table, source=str(path)) & set(models)
            models = {alias: table for alias, table in models.items() if alias in wanted}
        return cls(
            models,
            policy=data.get("trust"),
            retry=data.get("retry"),
            trust=trust,
            registry=registry,
            source=str(path),
            config_dir=path.resolve().parent,
            max_concurrency=settings.get("max_concurrency", DEFAULT_MAX_CONCURRENCY),
            routes=routes,
        )

    # -- validation -----------------------------------------------------------------------

    def _validate_provider_config(self, entry: ModelEntry) -> None:
        self.registry.load()
        spec = self.registry.providers.get(entry.provider)
        if spec is None:
            known = sorted(self.registry.providers)
            near = difflib.get_close_matches(entry.provider, known, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(repr(n) for n in near)}? " if near else ""
            raise ConfigError(
                f"{hint}{self.registry.missing_message('provider', entry.provider, known)}",
                source=self.source,
                alias=entry.alias,
                field="provider",
            )
        context = {"config_dir": self._config_dir, "alias": entry.alias}
        try:
            self._provider_configs[entry.alias] = spec.config_schema.model_validate(entry.options, context=context)
        except ValidationError as exc:
            field, message = describe_validation_error(exc)
            extra = next((e for e in exc.errors() if e["type"] == "extra_forbidden" and len(e["loc"]) == 1), None)
            if extra is not None:  # a misspelled option: name the nearest real one
                fields = spec.config_schema.model_fields
                options = {*fields, *(f.alias for f in fields.values() if f.alias)}
                message = f"{did_you_mean(str(extra['loc'][0]), options)}{message}"
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

    @property
    def routes(self) -> list[str]:
        """The names of the ``[routes]``; ``model(name)`` returns a ``RoutedModel``."""
        return sorted(self._routes)

    def entry(self, alias: str) -> ModelEntry | None:
        return self._entries.get(alias)

    def model(self, alias: str) -> ManagedModel:
        """The model called ``alias`` (or the route of that name), built on first use and
        reused afterwards."""
        if self._closed:
            raise ByomError("client is closed")
        built = self._built.get(alias)
        if built is not None:
            return built
        with self._lock:
            built = self._built.get(alias)
            if built is None:
                built = self._build_route(alias) if alias in self._routes else self._build(alias)
                self._built[alias] = built
        return built

    def provider_config(self, alias: str) -> Any:
        """The validated provider config of ``alias`` (an instance of its provider's
        ``config_schema``, relative paths resolved), e.g. for a batch runner."""
        entry = self._entries.get(alias)
        if entry is None:
            raise ConfigError(f"model '{alias}' has no provider config (a route or an instance)", source=self.source)
        if alias not in self._provider_configs:
            self._validate_provider_config(entry)
        return self._provider_configs[alias]

    def provider_model(self, alias: str) -> Provider:
        """A new instance of the plugin's own provider for ``alias``, without middleware,
        trust or retries — for conformance testing and debugging a plugin. The caller
        closes it."""
        entry = self._entries.get(alias)
        if entry is None:
            if alias in self._instances:
                raise ConfigError(f"model '{alias}' was given as an instance; it has no provider config")
            raise ConfigError(no_model_named(alias, {*self.aliases, *self._routes}), source=self.source)
        spec = self.registry.provider(entry.provider)
        if alias not in self._provider_configs:
            self._validate_provider_config(entry)
        try:
            built = spec.factory(self._provider_configs[alias])
        except ConfigError as exc:
            raise exc.within(source=self.source, alias=alias) from None
        except ByomError:
            raise
        except Exception as exc:
            raise PluginError(
                f"provider '{entry.provider}' failed to build model '{alias}': {type(exc).__name__}: {exc}",
                plugin=entry.provider,
            ) from exc
        if not isinstance(built, Provider):
            raise PluginError(
                f"provider '{entry.provider}' factory returned {type(built).__name__}, expected a "
                "byom_sdk.Provider (or a byom_sdk.Model, plugin API 1)",
                plugin=entry.provider,
            )
        return built

    def _build(self, alias: str) -> ManagedModel:
        entry = self._entries.get(alias)
        tokenizer: Tokenizer | None = None
        retry = self.retry
        trust_override: Mapping[str, Any] | None = None
        if entry is None and alias in self._instances:
            provider = self._instances[alias]
        else:
            provider = self.provider_model(alias)
            assert entry is not None  # provider_model raised otherwise
            tokenizer = self._tokenizer_for(entry)
            retry = entry.retry or self.retry
            trust_override = entry.trust
        info = provider.info
        plugin_middleware: list[Middleware] = []
        for mw_spec in self.registry.middleware_specs():
            try:
                built_mw = mw_spec.factory(alias, info)
            except Exception as exc:
                raise PluginError(
                    f"middleware '{mw_spec.name}' failed for model '{alias}': {type(exc).__name__}: {exc}",
                    plugin=mw_spec.name,
                ) from exc
            if built_mw is not None:
                plugin_middleware.append(built_mw)
        trust = self.trust.steps_for(alias, override=trust_override)
        # The structured-output step reads answers with placeholders restored, so it sits
        # just outside masking; scoring reads them too.
        steps: list[Middleware] = [*trust.outer, *plugin_middleware, trust.scoring, StructuredStep(), trust.masking]
        if tokenizer is not None:
            steps.append(TokenizerMiddleware(tokenizer))
        pipeline = Pipeline(steps, retry=retry, executors=self.executors)
        return ManagedModel(alias, provider, pipeline, tokenizer=tokenizer)

    def _build_route(self, name: str) -> ManagedModel:
        from .routing import build_route

        return build_route(self, self._routes[name])

    def _tokenizer_for(self, entry: ModelEntry) -> Tokenizer | None:
        if entry.tokenizer is None:
            return None
        options = dict(entry.tokenizer)
        kind = str(options.pop("kind", "hf"))
        try:
            spec = self.registry.tokenizer(kind)
        except PluginError as exc:
            raise ConfigError(str(exc), source=self.source, alias=entry.alias, field="tokenizer.kind") from None
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
            raise exc.within(source=self.source, alias=entry.alias) from None

    # -- batch ----------------------------------------------------------------------------

    def batch(self, input: str | Path, output: str | Path, *, model: str, runner: str = "local", **options: Any) -> Any:
        """Run every JSONL record of ``input`` through ``model`` and write one answer per id to
        ``output`` (a rerun resumes); ``runner``: ``local``, ``ray``, ``sagemaker-transform``
        or ``vertex-batch``. Returns a :class:`byom_sdk.batch.BatchSummary` (docs/batch.md)."""
        from .batch import run_batch

        return run_batch(self, input, output, model=model, runner=runner, **options)

    # -- lifecycle ------------------------------------------------------------------------

    def close(self, *, timeout: float = DEFAULT_CLOSE_TIMEOUT) -> None:
        """Close every model this client built, the trust runtime and the executors.

        New calls are refused from now on; calls in flight on other threads (and async
        calls on other threads' loops) get up to ``timeout`` seconds to finish, so their
        answers reach their callers and their outcomes are audited. Streams left open
        between two reads, never read, or left open on an event loop that has ended are
        then ended as cancelled (a later read raises). A call still
        running after ``timeout`` fails closed once the audit is gone (``AuditError``).
        """
        if self._closed:
            return
        self._closed = True
        in_flight = self.executors.in_flight
        skip: set[Hashable] = {threading.get_ident()}  # calls of this thread cannot progress now
        try:
            skip.add(asyncio.get_running_loop())  # ... nor async calls on its loop
        except RuntimeError:
            pass
        in_flight.drain(timeout, skip=skip)
        for stream in list(in_flight.streams):
            if isinstance(stream, SyncStream):
                stream._close_for_client()
            elif isinstance(stream, AsyncStream):
                stream._close_from_sync()
        for model in reversed(self._built.values()):  # a route before the targets it uses
            model.close()
        if self._trust is not None:
            self._trust.close()
        self.executors.shutdown(wait=True)

    async def aclose(self, *, timeout: float = DEFAULT_CLOSE_TIMEOUT) -> None:
        """Async twin of :meth:`close`: waits for calls in flight without blocking the loop
        (its own tasks' calls included), ends the streams left open on this loop and the
        sync ones, and providers close their loop-bound clients (gRPC channels) on it."""
        if self._closed:
            return
        self._closed = True
        in_flight = self.executors.in_flight
        if timeout > 0:
            await asyncio.to_thread(in_flight.drain, timeout)
        else:
            in_flight.drain(0)
        for stream in list(in_flight.streams):
            if isinstance(stream, AsyncStream):
                if stream._plan is None:
                    await asyncio.to_thread(stream._close_from_sync)
                else:
                    await stream._close_for_client()
            elif isinstance(stream, SyncStream):
                await asyncio.to_thread(stream._close_for_client)
        for model in reversed(self._built.values()):  # a route before the targets it uses
            await model.aclose()
        if self._trust is not None:
            self._trust.close()
        self.executors.shutdown(wait=False)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
