from __future__ import annotations

import pytest

from byom_sdk.testing import isolated_registry

# pytest only honours pytest_plugins in the top-level conftest: the conformance-suite tests
# under tests/conformance/ run the suite on defective plugins with pytester.
pytest_plugins = ["pytester", "byom_sdk.testing.plugin"]


@pytest.fixture
def registry():
    """A fresh registry (builtins only) active for the test."""
    with isolated_registry() as reg:
        yield reg


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path, monkeypatch):
    """Run each test in its own folder: the default audit file is written to the cwd."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _no_plugin_env(monkeypatch):
    for name in ("BYOM_LOAD_PLUGINS", "BYOM_DISABLED_PLUGINS", "BYOM_STRICT_PLUGINS", "BYOM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
