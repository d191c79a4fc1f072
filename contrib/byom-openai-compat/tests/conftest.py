import pytest
from byom_openai_compat.testing import OpenAICompatServer

pytest_plugins = ["byom_sdk.testing.plugin"]


@pytest.fixture(scope="session")
def openai_server():
    """One loopback OpenAI-compatible server (ScriptedModel behind it) for the session."""
    with OpenAICompatServer(timeout_delay=1.0) as server:
        yield server


@pytest.fixture(autouse=True)
def _audit_in_tmp(tmp_path, monkeypatch):
    """Clients with the default policy write byom-audit.sqlite to the working directory."""
    monkeypatch.chdir(tmp_path)
