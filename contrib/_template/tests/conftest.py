import pytest

pytest_plugins = ["byom_sdk.testing.plugin"]


@pytest.fixture(autouse=True)
def _audit_in_tmp(tmp_path, monkeypatch):
    """Clients with the default policy write byom-audit.sqlite to the working directory."""
    monkeypatch.chdir(tmp_path)
