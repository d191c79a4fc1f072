"""Plugin discovery: our own isolated entry-point loader over group ``byom``.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to import,
so one broken plugin takes every other down with it. This loader loads each entry point
on its own and, per plugin:

1. honours ``BYOM_LOAD_PLUGINS`` (allow-list; empty means none) and
   ``BYOM_DISABLED_PLUGINS`` (block-list), by entry-point or distribution name;
2. imports and registers it, recording any failure with the plugin's and the core's
   versions and warning (``PluginLoadWarning``); ``BYOM_STRICT_PLUGINS=1`` raises instead;
3. calls ``check_pending()`` so a misspelled hook fails loudly instead of doing nothing;
4. calls its hooks one plugin at a time, validating every spec's type and
   ``api_version`` and rejecting provider names another plugin already took;
5. rolls the plugin back whole if any step failed.

Asking for a provider that a failed plugin would have supplied cites that failure.
Plugins load lazily, on the first registry use, never at ``import byom_sdk``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import os
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

import pluggy

from . import _hookspecs
from ._errors import PluginError
from ._specs import (
    API_VERSION,
    MIN_API_VERSION,
    AuditSinkSpec,
    BatchRunnerSpec,
    DetectorSpec,
    MiddlewareSpec,
    ModelProviderSpec,
    TokenizerSpec,
)

__all__ = [
    "PluginFailure",
    "PluginInfo",
    "PluginLoadWarning",
    "Registry",
    "get_registry",
    "isolated_registry",
]

ENTRY_POINT_GROUP = "byom"
BUILTIN_PLUGINS = {
    # name shown by `byom plugins` -> module
    "byom-sdk:testing": "byom_sdk.testing._provider",
    "byom-sdk:tokenizers": "byom_sdk._builtin",
    "byom-sdk:trust": "byom_sdk.trust._plugin",
    "byom-sdk:routing": "byom_sdk.routing._plugin",
}

_SPEC_HOOKS: dict[str, type[Any]] = {
    "byom_model_providers": ModelProviderSpec,
    "byom_tokenizers": TokenizerSpec,
    "byom_detectors": DetectorSpec,
    "byom_audit_sinks": AuditSinkSpec,
    "byom_middleware": MiddlewareSpec,
    "byom_batch_runners": BatchRunnerSpec,
}


_TABLE_ATTR = {
    "byom_model_providers": "providers",
    "byom_tokenizers": "tokenizers",
    "byom_detectors": "detectors",
    "byom_audit_sinks": "audit_sinks",
    "byom_middleware": "middleware",
    "byom_batch_runners": "batch_runners",
}


class PluginLoadWarning(UserWarning):
    """A plugin failed to load and was skipped; the rest of the SDK keeps working."""


def core_version() -> str:
    try:
        return importlib.metadata.version("byom-sdk")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that did not load, and why."""

    name: str
    distribution: str | None
    version: str | None
    error: str
    stage: str

    def describe(self) -> str:
        dist = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"plugin '{self.name}'{dist} failed at {self.stage}: {self.error}"


@dataclass
class PluginInfo:
    """A loaded plugin and what it registered."""

    name: str
    distribution: str | None
    version: str | None
    builtin: bool
    hooks: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    tokenizers: list[str] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)
    audit_sinks: list[str] = field(default_factory=list)
    middleware: list[str] = field(default_factory=list)
    batch_runners: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {item.strip() for item in value.split(",") if item.strip()}


class Registry:
    """Everything plugins registered: providers, tokenizers, detectors, sinks, middleware.

    :param entry_points: load plugins from the ``byom`` entry-point group (lazily).
    :param builtins: register the core's own plugins (the scripted test model, the
        built-in detectors and audit sinks).
    """

    def __init__(self, *, entry_points: bool = True, builtins: bool = True) -> None:
        self._load_entry_points = entry_points
        self._builtins = builtins
        self._loaded = False
        self._lock = threading.RLock()
        self.pm = pluggy.PluginManager(_hookspecs.PROJECT)
        self.pm.add_hookspecs(_hookspecs)
        self.providers: dict[str, ModelProviderSpec] = {}
        self.tokenizers: dict[str, TokenizerSpec] = {}
        self.detectors: dict[str, DetectorSpec] = {}
        self.audit_sinks: dict[str, AuditSinkSpec] = {}
        self.middleware: dict[str, MiddlewareSpec] = {}
        self.batch_runners: dict[str, BatchRunnerSpec] = {}
        self._command_hooks: list[tuple[str, Callable[[], Any]]] = []
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []
        self._owner: dict[tuple[str, str], str] = {}

    # -- loading --------------------------------------------------------------------------

    def load(self) -> Registry:
        """Load builtins and entry points once; later calls do nothing."""
        with self._lock:
            if self._loaded:
                return self
            self._loaded = True
            if self._builtins:
                for name, module_name in BUILTIN_PLUGINS.items():
                    self._load_one(name, functools.partial(importlib.import_module, module_name), None, builtin=True)
            if self._load_entry_points:
                self._load_from_entry_points()
        return self

    def _load_from_entry_points(self) -> None:
        allow = _env_list("BYOM_LOAD_PLUGINS")
        block = _env_list("BYOM_DISABLED_PLUGINS") or set()
        seen: set[str] = set()
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            names = {ep.name} | ({dist_name} if dist_name else set())
            if ep.name in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add(ep.name)
            if allow is not None and not names & allow:
                continue
            if names & block:
                continue
            self._load_one(ep.name, ep.load, dist, builtin=False)

    def register(self, plugin: object, name: str | None = None) -> PluginInfo:
        """Register a plugin object (a module, class or instance) now, with full checks.

        Raises :class:`PluginError` if the plugin is invalid (it is then not registered).
        """
        self.load()
        plugin_name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        with self._lock:
            info = self._install(plugin, plugin_name, None, builtin=False)
        return info

    def unregister(self, name: str) -> None:
        """Remove a plugin and everything it registered."""
        with self._lock:
            self._rollback(name)

    def _load_one(self, name: str, loader: Callable[[], object], dist: Any, *, builtin: bool) -> None:
        version = dist.version if dist is not None else None
        dist_name = dist.metadata["Name"] if dist is not None else None
        try:
            plugin = loader()
        except Exception as exc:  # noqa: BLE001 - isolating whatever a plugin raises is the point.
            self._record(name, dist_name, version, "import", exc)
            return
        try:
            info = self._install(plugin, name, dist, builtin=builtin)
        except PluginError as exc:
            self._record(name, dist_name, version, "validation", exc)
            return
        if builtin:
            dist_name, version = "byom-sdk", core_version()
        info.distribution, info.version = dist_name, version

    def _record(self, name: str, dist_name: str | None, version: str | None, stage: str, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"
        failure = PluginFailure(name, dist_name, version, error, stage)
        self.failures.append(failure)
        if os.environ.get("BYOM_STRICT_PLUGINS") == "1":
            raise PluginError(failure.describe(), plugin=name) from exc
        warnings.warn(
            f"{failure.describe()}; skipped. byom-sdk {core_version()} supports plugin API "
            f"{MIN_API_VERSION}..{API_VERSION}: check that the plugin is compatible with this "
            f"core (BYOM_STRICT_PLUGINS=1 raises instead).\n"
            + "".join(traceback.format_exception_only(type(exc), exc)).strip(),
            PluginLoadWarning,
            stacklevel=3,
        )

    def _install(self, plugin: object, name: str, dist: Any, *, builtin: bool) -> PluginInfo:
        if self.pm.has_plugin(name) or name in self.plugins:
            raise PluginError(f"plugin '{name}' is already registered", plugin=name)
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"plugin '{name}': {exc}", plugin=name) from exc
        info = PluginInfo(name=name, distribution=None, version=None, builtin=builtin)
        self.plugins[name] = info
        try:
            try:
                self.pm.check_pending()
            except pluggy.PluginValidationError as exc:
                raise PluginError(
                    f"plugin '{name}': {exc} (hooks must be one of: {', '.join(self.hook_names())})",
                    plugin=name,
                ) from exc
            self._collect(plugin, name, info)
        except BaseException:
            self._rollback(name)
            raise
        return info

    def _collect(self, plugin: object, name: str, info: PluginInfo) -> None:
        for hook_name in self.hook_names():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                info.hooks.append(hook_name)
                if hook_name == "byom_cli_commands":
                    # Called only by the CLI (commands import click); see cli_commands().
                    self._command_hooks.append((name, impl.function))
                    continue
                try:
                    result = impl.function()
                    items = list(result or ())
                except Exception as exc:
                    raise PluginError(
                        f"plugin '{name}': hook {hook_name}() raised {type(exc).__name__}: {exc}",
                        plugin=name,
                    ) from exc
                for spec in items:
                    self._add_spec(hook_name, spec, name, info)

    def _add_spec(self, hook_name: str, spec: Any, plugin: str, info: PluginInfo) -> None:
        expected = _SPEC_HOOKS[hook_name]
        spec = cast(Any, spec)  # checked just below; the spec classes share name/api_version
        if not isinstance(spec, expected):
            raise PluginError(
                f"plugin '{plugin}': hook {hook_name}() returned {type(spec).__name__}, expected {expected.__name__}",
                plugin=plugin,
            )
        version = spec.api_version
        if not (isinstance(version, int) and MIN_API_VERSION <= version <= API_VERSION):
            raise PluginError(
                f"plugin '{plugin}': {expected.__name__} '{spec.name}' declares api_version "
                f"{version!r}, but byom-sdk {core_version()} supports {MIN_API_VERSION}..{API_VERSION}",
                plugin=plugin,
            )
        kind = _TABLE_ATTR[hook_name]
        table: dict[str, Any] = getattr(self, kind)
        if spec.name in table:
            other = self._owner.get((kind, spec.name), "?")
            raise PluginError(
                f"plugin '{plugin}': {expected.__name__} name '{spec.name}' is already registered by plugin '{other}'",
                plugin=plugin,
            )
        table[spec.name] = spec
        self._owner[(kind, spec.name)] = plugin
        getattr(info, kind).append(spec.name)

    def _rollback(self, name: str) -> None:
        for (kind, spec_name), owner in list(self._owner.items()):
            if owner == name:
                getattr(self, kind).pop(spec_name, None)
                del self._owner[(kind, spec_name)]
        self.plugins.pop(name, None)
        self._command_hooks = [(owner, f) for owner, f in self._command_hooks if owner != name]
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)

    # -- lookups --------------------------------------------------------------------------

    @staticmethod
    def hook_names() -> list[str]:
        return sorted(n for n in dir(_hookspecs) if n.startswith("byom_"))

    def provider(self, name: str) -> ModelProviderSpec:
        """The provider called ``name``; the error cites a failed plugin that may own it."""
        self.load()
        spec = self.providers.get(name)
        if spec is not None:
            return spec
        raise PluginError(self.missing_message("provider", name, sorted(self.providers)), plugin=name)

    def tokenizer(self, name: str) -> TokenizerSpec:
        self.load()
        spec = self.tokenizers.get(name)
        if spec is not None:
            return spec
        raise PluginError(self.missing_message("tokenizer", name, sorted(self.tokenizers)), plugin=name)

    def audit_sink(self, name: str) -> AuditSinkSpec:
        self.load()
        spec = self.audit_sinks.get(name)
        if spec is not None:
            return spec
        raise PluginError(self.missing_message("audit sink", name, sorted(self.audit_sinks)), plugin=name)

    def batch_runner(self, name: str) -> BatchRunnerSpec:
        self.load()
        spec = self.batch_runners.get(name)
        if spec is not None:
            return spec
        known = ["local", "ray", *sorted(self.batch_runners)]
        raise PluginError(self.missing_message("batch runner", name, known), plugin=name)

    def missing_message(self, kind: str, name: str, known: list[str]) -> str:
        """Why ``name`` is not registered, citing a failed plugin that may own it."""
        message = f"no {kind} named '{name}' (known: {', '.join(known) or 'none'})"
        related = [f for f in self.failures if name in f.name or (f.distribution and name in f.distribution)]
        if related:
            message += "; " + "; ".join(f.describe() for f in related)
        elif self.failures:
            message += f"; note {len(self.failures)} plugin(s) failed to load: " + "; ".join(
                f.describe() for f in self.failures
            )
        return message

    def cli_commands(self) -> list[tuple[str, Any]]:
        """(plugin, click command) pairs from ``byom_cli_commands``; a failing hook is
        recorded as that plugin's failure and skipped."""
        self.load()
        commands = []
        for plugin, hook in self._command_hooks:
            try:
                items = list(hook() or ())
            except Exception as exc:  # noqa: BLE001 - a hook's failure belongs to its plugin.
                info = self.plugins.get(plugin)
                self._record(plugin, info.distribution if info else None, info.version if info else None, "cli", exc)
                continue
            for command in items:
                commands.append((plugin, command))
                if plugin in self.plugins:
                    self.plugins[plugin].commands.append(str(getattr(command, "name", command)))
        return commands

    def middleware_specs(self) -> list[MiddlewareSpec]:
        self.load()
        return sorted(self.middleware.values(), key=lambda spec: (spec.order, spec.name))

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``byom plugins --json`` prints)."""
        self.load()
        return {
            "core_version": core_version(),
            "plugin_api": {"min": MIN_API_VERSION, "current": API_VERSION},
            "plugins": [
                {
                    "name": p.name,
                    "distribution": p.distribution,
                    "version": p.version,
                    "builtin": p.builtin,
                    "hooks": p.hooks,
                    "providers": p.providers,
                    "tokenizers": p.tokenizers,
                    "detectors": p.detectors,
                    "audit_sinks": p.audit_sinks,
                    "middleware": p.middleware,
                    "batch_runners": p.batch_runners,
                    "commands": p.commands,
                }
                for p in self.plugins.values()
            ],
            "failures": [
                {
                    "name": f.name,
                    "distribution": f.distribution,
                    "version": f.version,
                    "stage": f.stage,
                    "error": f.error,
                }
                for f in self.failures
            ],
        }


_default: Registry | None = None
_default_lock = threading.Lock()
_current: ContextVar[Registry | None] = ContextVar("byom_registry", default=None)


def get_registry() -> Registry:
    """The registry in effect: an :func:`isolated_registry` if one is active, else the
    process-wide one (created, not loaded, on first use)."""
    current = _current.get()
    if current is not None:
        return current
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Registry()
    return _default


@contextlib.contextmanager
def isolated_registry(*plugins: object, builtins: bool = True) -> Iterator[Registry]:
    """A fresh registry with no entry-point plugins, active for the ``with`` block.

    Register throwaway plugins for one test::

        with isolated_registry(MyPlugin()) as registry:
            client = Client(models={"m": {"provider": "mine"}})
    """
    registry = Registry(entry_points=False, builtins=builtins)
    registry.load()
    for plugin in plugins:
        registry.register(plugin)
    token = _current.set(registry)
    try:
        yield registry
    finally:
        _current.reset(token)
