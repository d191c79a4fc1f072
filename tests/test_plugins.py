"""The entry-point loader isolates broken plugins and reports them precisely."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from byom_sdk import Client, ConfigError, ModelProviderSpec, PluginError, PluginLoadWarning, Registry, hookimpl
from byom_sdk.testing import ScriptedModel, isolated_registry

GOOD = """
import byom_sdk
from byom_sdk.testing import ScriptedModel

@byom_sdk.hookimpl
def byom_model_providers():
    return [byom_sdk.ModelProviderSpec(name="good", factory=lambda cfg: ScriptedModel(["from good"]))]
"""
BROKEN_IMPORT = "import a_module_that_does_not_exist_anywhere\n"
WRONG_API = """
import byom_sdk
from byom_sdk.testing import ScriptedModel

@byom_sdk.hookimpl
def byom_model_providers():
    return [byom_sdk.ModelProviderSpec(name="future", factory=lambda c: ScriptedModel(), api_version=99)]
"""
MISSPELLED = """
import byom_sdk

@byom_sdk.hookimpl
def byom_model_provider():   # missing the trailing "s"
    return []
"""
DUPLICATE = """
import byom_sdk
from byom_sdk.testing import ScriptedModel

@byom_sdk.hookimpl
def byom_model_providers():
    return [byom_sdk.ModelProviderSpec(name="scripted", factory=lambda c: ScriptedModel())]
"""
WRONG_TYPE = """
import byom_sdk

@byom_sdk.hookimpl
def byom_model_providers():
    return [{"name": "dict-not-spec"}]
"""


def _install(root: Path, dist: str, ep_name: str, module: str, source: str) -> None:
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[byom]\n{ep_name} = {module}\n")


@pytest.fixture
def plugin_env(tmp_path, monkeypatch):
    """Installs fake plugin distributions (real dist-info on sys.path)."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    # Only our fake plugins: the real first-party ones are tested in their own packages.
    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "byom-good,byom-broken,byom-future,byom-typo,byom-dup,byom-wrongtype")

    def install(dist, ep_name, module, source):
        _install(root, dist, ep_name, module, source)

    yield install
    for name in ("good_plugin", "broken_plugin", "future_plugin", "typo_plugin", "dup_plugin", "wrongtype_plugin"):
        sys.modules.pop(name, None)


def _all_broken(install):
    install("byom-good", "good", "good_plugin", GOOD)
    install("byom-broken", "broken", "broken_plugin", BROKEN_IMPORT)
    install("byom-future", "future", "future_plugin", WRONG_API)
    install("byom-typo", "typo", "typo_plugin", MISSPELLED)
    install("byom-dup", "dup", "dup_plugin", DUPLICATE)
    install("byom-wrongtype", "wrongtype", "wrongtype_plugin", WRONG_TYPE)


def test_broken_plugins_are_isolated_and_recorded(plugin_env):
    """Import error, wrong api_version, misspelled hook, duplicate name and wrong spec type are
    each recorded against the right plugin while the good plugin still loads."""
    _all_broken(plugin_env)
    with pytest.warns(PluginLoadWarning) as caught:
        registry = Registry().load()
    failures = {f.name: f for f in registry.failures}
    assert set(failures) == {"broken", "future", "typo", "dup", "wrongtype"}
    assert failures["broken"].stage == "import" and "a_module_that_does_not_exist_anywhere" in failures["broken"].error
    assert "api_version 99" in failures["future"].error and "supports 1..2" in failures["future"].error
    assert "byom_model_provider" in failures["typo"].error and "unknown hook" in failures["typo"].error
    assert "'scripted' is already registered by plugin" in failures["dup"].error
    assert "expected ModelProviderSpec" in failures["wrongtype"].error
    assert failures["broken"].distribution == "byom-broken" and failures["broken"].version == "1.2.3"
    # the warning names the plugin, its version and the core version
    messages = [str(w.message) for w in caught]
    assert any("plugin 'broken' (byom-broken 1.2.3)" in m and "byom-sdk" in m for m in messages)
    # the good plugin and the builtins are intact; nothing of the broken ones leaked in
    assert set(registry.providers) == {"good", "scripted"}
    assert registry.providers["scripted"].factory is not None
    assert "future" not in registry.providers and "dup" not in registry.plugins


def test_asking_for_a_failed_plugins_provider_cites_the_failure(plugin_env):
    """A model whose plugin failed to load reports that plugin's failure, not just 'unknown'."""
    plugin_env("byom-future", "future", "future_plugin", WRONG_API)
    with pytest.warns(PluginLoadWarning):
        registry = Registry().load()
    with pytest.raises(ConfigError) as info:  # at load, naming alias and field
        Client(models={"bot": {"provider": "future"}}, registry=registry)
    assert info.value.alias == "bot" and info.value.field == "provider"
    assert "no provider named 'future'" in str(info.value)
    assert "plugin 'future' (byom-future 1.2.3) failed at validation" in str(info.value)


def test_strict_mode_raises(plugin_env, monkeypatch):
    """BYOM_STRICT_PLUGINS=1 turns a load failure into an exception naming the plugin."""
    plugin_env("byom-broken", "broken", "broken_plugin", BROKEN_IMPORT)
    monkeypatch.setenv("BYOM_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="plugin 'broken'") as info:
        Registry().load()
    assert isinstance(info.value.__cause__, ImportError)


def test_allow_and_block_lists(plugin_env, monkeypatch):
    """BYOM_LOAD_PLUGINS limits loading to the listed plugins; BYOM_DISABLED_PLUGINS skips some."""
    _all_broken(plugin_env)
    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "good")
    registry = Registry().load()  # no warnings: the broken ones are never imported
    assert registry.failures == [] and "good" in registry.providers
    assert "broken_plugin" not in sys.modules

    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "")
    assert "good" not in Registry().load().providers

    monkeypatch.delenv("BYOM_LOAD_PLUGINS")
    monkeypatch.setenv("BYOM_DISABLED_PLUGINS", "byom-broken,future,typo,dup,wrongtype")
    registry = Registry().load()
    assert registry.failures == [] and "good" in registry.providers


def test_plugins_load_lazily_not_at_import(plugin_env):
    """Creating a registry imports nothing; the first lookup loads the plugins."""
    plugin_env("byom-good", "good", "good_plugin", GOOD)
    registry = Registry()
    assert "good_plugin" not in sys.modules
    registry.provider("good")
    assert "good_plugin" in sys.modules


def test_failing_hook_call_is_isolated(registry):
    """A hook that raises is the plugin's failure, reported with the hook name."""

    class Exploding:
        @hookimpl
        def byom_model_providers(self):
            raise RuntimeError("boom")

    with pytest.raises(PluginError, match=r"hook byom_model_providers\(\) raised RuntimeError: boom"):
        registry.register(Exploding(), name="exploding")
    assert "exploding" not in registry.plugins


def test_isolated_registry_registers_a_throwaway_plugin():
    """isolated_registry() makes a plugin available to Clients for one block only."""

    class Throwaway:
        @hookimpl
        def byom_model_providers(self):
            return [ModelProviderSpec(name="throwaway", factory=lambda cfg: ScriptedModel(["tmp"]))]

    with isolated_registry(Throwaway()):
        assert Client(models={"m": {"provider": "throwaway"}}, trust="off").model("m").generate("x").text == "tmp"
    with isolated_registry() as fresh:
        assert "throwaway" not in fresh.providers


def test_describe_lists_plugins_and_failures(plugin_env):
    """describe() is the JSON `byom plugins --json` prints."""
    plugin_env("byom-good", "good", "good_plugin", GOOD)
    plugin_env("byom-broken", "broken", "broken_plugin", BROKEN_IMPORT)
    with pytest.warns(PluginLoadWarning):
        summary = Registry().load().describe()
    good = next(p for p in summary["plugins"] if p["name"] == "good")
    assert good == {
        "name": "good",
        "distribution": "byom-good",
        "version": "1.2.3",
        "builtin": False,
        "hooks": ["byom_model_providers"],
        "providers": ["good"],
        "tokenizers": [],
        "detectors": [],
        "audit_sinks": [],
        "middleware": [],
        "batch_runners": [],
        "commands": [],
    }
    assert summary["failures"][0]["name"] == "broken"
    assert summary["plugin_api"] == {"min": 1, "current": 2}
