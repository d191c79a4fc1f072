import pytest
from byom_azureml.testing import LocalAzureMLServer

pytest_plugins = ["byom_sdk.testing.plugin"]


@pytest.fixture(scope="session")
def aml_server():
    """One loopback Azure ML endpoint (an echoing ScriptedModel behind it) for the session."""
    with LocalAzureMLServer(slow_seconds=1.0) as server:
        yield server


@pytest.fixture(autouse=True)
def _key_and_cwd(tmp_path, monkeypatch):
    monkeypatch.setenv("AZUREML_API_KEY", "aml-test-key")
    monkeypatch.chdir(tmp_path)  # Clients with a default policy write their audit file here
